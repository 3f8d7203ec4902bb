// Announcer: a polite live region, visually hidden. Lines are added and trimmed in the browser, not
// as NiceGUI elements: each element added during an answer re-ran Vue's render of the page and a
// style recalculation, about a seventh of a page's rendering work while it streamed.
export default {
  template: `<div class="sr-only" aria-live="polite" aria-relevant="additions" data-testid="announcer"></div>`,
  props: {
    keep: { type: Number, default: 5 },
  },
  methods: {
    say(lines) {
      for (const text of lines) {
        const line = document.createElement("div");
        line.textContent = text;
        this.$el.append(line);
      }
      while (this.$el.childElementCount > this.keep) this.$el.firstElementChild.remove();
    },
  },
};

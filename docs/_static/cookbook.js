// Let keyboard users scroll code, output, maths and table boxes that overflow
// (WCAG 2.1.1). Checked again once the maths fonts have loaded and whenever
// the window is resized, since both change what overflows.
function focusableScrollBoxes() {
  for (const block of document.querySelectorAll("div.highlight pre, div.math, .katex-display, .table-wrapper")) {
    if (block.scrollWidth > block.clientWidth || block.scrollHeight > block.clientHeight) {
      block.tabIndex = 0;
    }
  }
}
document.addEventListener("DOMContentLoaded", focusableScrollBoxes);
document.fonts.ready.then(focusableScrollBoxes);
window.addEventListener("resize", focusableScrollBoxes);

// On paper nothing scrolls: a display of maths wider than the printed column
// is set in a smaller font that fits it. Its natural width is measured before
// printing (it does not depend on the column); the column's width is known
// only in the print layout, where the display is a size container and each
// part of it gets font-size min(its size, 100cqw x size / natural width),
// a little less for rounding.
const PRINTED_MATHS = "div.math, .katex-display";
window.addEventListener("beforeprint", () => {
  for (const box of document.querySelectorAll(PRINTED_MATHS)) {
    if (box.parentElement.closest(PRINTED_MATHS)) continue; // the outermost box only
    box.style.width = "max-content";
    const natural = box.getBoundingClientRect().width;
    box.style.width = "";
    if (!natural) continue;
    box.style.containerType = "inline-size";
    for (const part of box.children) {
      const size = parseFloat(getComputedStyle(part).fontSize);
      // 0.96: glyph sizes and spacing do not scale exactly with the font size.
      part.style.fontSize = `min(${size}px, calc(100cqw * ${(0.96 * size) / natural}))`;
    }
  }
});
window.addEventListener("afterprint", () => {
  for (const box of document.querySelectorAll(PRINTED_MATHS)) {
    box.style.containerType = "";
    for (const part of box.children) part.style.fontSize = "";
  }
});

// Search results quote each page's text (Sphinx's searchtools.js takes the
// textContent of the page it fetched). Two parts of a page would read wrong
// there: KaTeX's MathML, which sits beside the visible maths for screen
// readers, so every formula would be quoted twice ("Hv=v⊤HHv=v⊤H"), and
// sphinx-gallery's "Go to the end to download the full example code" note at
// the top of every tutorial. Both are removed from the fetched copy before
// Sphinx quotes it.
const NOT_QUOTED = ".katex-mathml, .sphx-glr-download-link-note";
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined" || !Search.htmlToText) return; // not the search page
  const quote = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(NOT_QUOTED).forEach((element) => element.remove());
    return quote(page.documentElement.outerHTML, anchor);
  };
});

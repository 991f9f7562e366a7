// Let keyboard users scroll code and output blocks that overflow (WCAG 2.1.1).
document.addEventListener("DOMContentLoaded", () => {
  for (const block of document.querySelectorAll("div.highlight pre, div.math")) {
    if (block.scrollWidth > block.clientWidth || block.scrollHeight > block.clientHeight) {
      block.tabIndex = 0;
    }
  }
});

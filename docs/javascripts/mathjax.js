// MathJax 3 configuration for pymdownx.arithmatex (generic mode): only the
// elements arithmatex marks are typeset. MathJax itself is served from the site
// (assets/mathjax/tex-svg.js, copied by docs/hooks.py), so pages need no network.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
  svg: {fontCache: "global"},
};

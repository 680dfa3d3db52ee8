// MathJax 3 for the notebook pages (mkdocs-jupyter loads this file where nbconvert would load MathJax): the
// `$...$` and `$$...$$` of the markdown cells, then the copy of MathJax that tools/docs.py puts in assets/mathjax/.
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']], processEscapes: true},
};
const script = document.createElement('script');
script.src = new URL('../assets/mathjax/tex-mml-chtml.js', document.currentScript.src).href;
script.async = true;
document.head.appendChild(script);

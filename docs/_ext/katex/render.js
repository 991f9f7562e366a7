// Typesets TeX with KaTeX for docs/_ext/offline_math.py, which starts this
// script once per build as `node render.js <path of the katex package>`.
//
// Each line on stdin is one batch: a JSON array of [tex, display] pairs. The
// answer is one line on stdout: a JSON array with, for each pair, either
// {"html": ...} or {"error": KaTeX's message, "token": the TeX it stopped at}.
// One line per batch, so the two sides never wait on each other's pipes.
"use strict";

const katex = require(process.argv[2]);
const readline = require("node:readline");

const OPTIONS = {
  output: "htmlAndMathml", // the MathML is what screen readers read
  throwOnError: true, // an error is reported, never drawn in red on a page
  strict: "error", // TeX that LaTeX itself would reject is an error too
  trust: false,
};

// KaTeX keeps the source TeX in a MathML annotation; pages carry only the
// typeset maths (the TeX is in the page's source file).
const ANNOTATION = /<semantics>([\s\S]*)<annotation encoding="application\/x-tex">[\s\S]*?<\/annotation><\/semantics>/;

function typeset([tex, display]) {
  try {
    const html = katex.renderToString(tex, { ...OPTIONS, displayMode: display });
    return { html: html.replace(ANNOTATION, "$1") };
  } catch (error) {
    if (!(error instanceof katex.ParseError)) throw error;
    const at = error.position;
    const token = at === undefined ? null : tex.slice(at, at + (error.length || 1));
    return { error: error.rawMessage, token };
  }
}

readline.createInterface({ input: process.stdin, crlfDelay: Infinity }).on("line", (line) => {
  process.stdout.write(JSON.stringify(JSON.parse(line).map(typeset)) + "\n");
});

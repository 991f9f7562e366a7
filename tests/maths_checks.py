"""Browser checks of the site's typeset maths.

Used by tests/test_browser.py: ``maths_problems(page)`` returns the problems on an
open Playwright page (every page), ``construct_page_problems(page)`` those
that only the construct page can have (each construct present and right).

What is checked, measured on the glyphs the reader sees (the hidden MathML
that KaTeX adds for screen readers is skipped):

- the overline spans its base: the line covers every glyph of its argument,
  left to right, and lies above them;
- the prime sits at its letter: drawn at superscript height (its foot
  reaches the letter's top; it is a stroke, not a speck) right after the
  letter's ink;
- bold is bold: ``\\mathbf`` text is drawn with a bold face (computed weight
  at least 600) that is wider than the regular one, and KaTeX's bold font
  loaded;
- the brace is a brace: ``\\underbrace`` is drawn as SVG paths at least
  0.4 em tall and at least as wide as what it spans;
- the construct page is drawn in KaTeX's own fonts, served by the site;
- no TeX left unrendered (no ``<code>`` fallback, no KaTeX error), no font
  that failed to load, no display that runs off the page without a scrollbar;
- the maths has the colour of the text around it and no background (axe,
  which checks that text's contrast, skips KaTeX's boxes).
"""

CONSTRUCT_PAGE = "maths_constructs.html"

# Shared helpers, defined in the page before the checks run.
HELPERS = r"""
window.__maths = {
  // Visible characters under ROOT with their boxes (the hidden MathML of
  // KaTeX's output, .katex-mathml, is skipped).
  glyphs(root) {
    const out = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode()); ) {
      if (node.parentElement.closest('.katex-mathml, annotation')) continue;
      for (let i = 0; i < node.data.length; i++) {
        const ch = node.data[i];
        if (!ch.trim() || ch === '\u200b') continue;
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const box = range.getBoundingClientRect();
        if (box.width === 0 && box.height === 0) continue;
        out.push({ch, left: box.left, right: box.right, top: box.top, bottom: box.bottom,
                  em: parseFloat(getComputedStyle(node.parentElement).fontSize), el: node.parentElement});
      }
    }
    return out;
  },
  // The ink of a glyph from glyphs(): measured with a canvas in the glyph's
  // own font, placed at the glyph's baseline (boxes alone include the font's
  // ascent and descent, not where the glyph is drawn).
  ink(g) {
    const style = getComputedStyle(g.el);
    const ctx = (this.ctx = this.ctx || document.createElement('canvas').getContext('2d'));
    ctx.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const m = ctx.measureText(g.ch);
    const baseline = g.top + m.fontBoundingBoxAscent;
    return {ch: g.ch, em: g.em, top: baseline - m.actualBoundingBoxAscent, bottom: baseline + m.actualBoundingBoxDescent,
            left: g.left - m.actualBoundingBoxLeft, right: g.left + m.actualBoundingBoxRight};
  },
  union(boxes) {
    return {left: Math.min(...boxes.map(b => b.left)), right: Math.max(...boxes.map(b => b.right)),
            top: Math.min(...boxes.map(b => b.top)), bottom: Math.max(...boxes.map(b => b.bottom))};
  },
  // The typeset formula that follows the <code> whose text is TEX on the construct page.
  formulaAfterCode(tex) {
    for (const code of document.querySelectorAll('article code')) {
      if (code.textContent !== tex) continue;
      let el = code.nextElementSibling;
      while (el && !el.matches('.math')) el = el.nextElementSibling;
      if (el) return el;
    }
    return null;
  },
  describe(el) {
    const formula = el.closest('.math');
    const text = formula ? formula.textContent : el.textContent;
    return text.replace(/\s+/g, ' ').trim().slice(0, 60);
  },
};
"""

OVERLINES = r"""
(() => {
  const M = window.__maths, problems = [];
  let count = 0;
  // KaTeX: a .katex-overline holds its argument and a ruled .overline-line.
  // MathML: <mover> whose last child is a bar character.
  const cases = [];
  for (const el of document.querySelectorAll('.katex-overline, .overline')) {
    const line = el.querySelector('.overline-line');
    if (line) cases.push([el, line.getBoundingClientRect(), M.glyphs(el)]);
  }
  for (const el of document.querySelectorAll('mover')) {
    if (el.closest('.katex-mathml')) continue;
    const bar = el.lastElementChild;
    if (!bar || !/^[\u203e\u00af_\u2015\u2500-]$/.test(bar.textContent.trim())) continue;
    cases.push([el, M.union(M.glyphs(bar)), M.glyphs(el.firstElementChild)]);
  }
  for (const [el, line, base] of cases) {
    if (!base.length) continue;
    count++;
    const b = M.union(base), tol = 1 + 0.05 * base[0].em;
    if (line.left > b.left + tol || line.right < b.right - tol)
      problems.push(`overline over "${M.describe(el)}" spans ${line.left.toFixed(1)}-${line.right.toFixed(1)} px, its base ${b.left.toFixed(1)}-${b.right.toFixed(1)} px`);
    if (line.bottom > b.top + tol)
      problems.push(`overline over "${M.describe(el)}" is not above its base`);
  }
  return [count, problems];
})()
"""

PRIMES = r"""
(() => {
  const M = window.__maths, problems = [];
  const PRIME = /[\u2032\u2033\u2034']/;
  let count = 0;
  for (const formula of document.querySelectorAll('.math')) {
    const glyphs = M.glyphs(formula);
    glyphs.forEach((g, i) => {
      if (!PRIME.test(g.ch) || (i > 0 && PRIME.test(glyphs[i - 1].ch))) return;  // the first of a run
      // The letter the prime belongs to: the nearest glyph before it that is
      // not a script (in u'_\theta the subscript comes first).
      let j = i - 1;
      while (j >= 0 && glyphs[j].em <= 1.05 * g.em) j--;
      if (j < 0 || /[()\[\]]/.test(glyphs[j].ch)) return;  // a prime after a bracket: (f')'
      const letter = M.ink(glyphs[j]), prime = M.ink(g), em = letter.em;
      const where = `prime after "${letter.ch}" in "${M.describe(formula)}"`;
      count++;
      // Drawn at superscript height: its foot reaches the letter's top (a
      // prime floating wholly above the letter is the defect), and its ink is
      // a stroke, not a speck.
      if (prime.bottom < letter.top - 0.05 * em)
        problems.push(`${where} floats ${((letter.top - prime.bottom) / em).toFixed(2)} em above the letter`);
      if (prime.bottom - prime.top < 0.25 * em)
        problems.push(`${where} is ${((prime.bottom - prime.top) / em).toFixed(2)} em tall`);
      // Next to the letter: no gap between their ink.
      const gap = prime.left - letter.right;
      if (gap > 0.15 * em || gap < -0.5 * em)
        problems.push(`${where} is ${(gap / em).toFixed(2)} em from it`);
    });
  }
  return [count, problems];
})()
"""

BOLD = r"""
(() => {
  const M = window.__maths, problems = [];
  let count = 0;
  for (const el of document.querySelectorAll('.mathbf, [mathvariant="bold"]')) {
    if (el.closest('.katex-mathml')) continue;
    count++;
    const weight = Number(getComputedStyle(el).fontWeight);
    if (weight < 600) problems.push(`bold "${el.textContent}" in "${M.describe(el)}" has font-weight ${weight}`);
  }
  const katexBold = [...document.fonts].filter(f => f.family.replace(/"/g, '') === 'KaTeX_Main' && String(f.weight) === '700');
  if (document.querySelector('.katex .mathbf') && !katexBold.some(f => f.status === 'loaded'))
    problems.push('the bold KaTeX_Main font did not load');
  return [count, problems];
})()
"""

BRACES = r"""
(() => {
  const M = window.__maths, problems = [];
  let count = 0;
  for (const formula of document.querySelectorAll('.math')) {
    const tex = formula.querySelector('.katex-mathml') ? formula.querySelector('.katex-mathml').textContent : '';
    // KaTeX draws a stretchy brace in .katex-stretchy inside .svg-align; what
    // it spans is the other row of the same .vlist.
    for (const stretchy of formula.querySelectorAll('.munder .svg-align .katex-stretchy, .mover .svg-align .katex-stretchy')) {
      count++;
      const box = stretchy.getBoundingClientRect();
      const paths = [...stretchy.querySelectorAll('svg path')].filter(p => (p.getAttribute('d') || '').length > 20);
      const row = stretchy.closest('.svg-align');
      const base = M.glyphs([...row.parentElement.children].find(c => c !== row && c.textContent.trim()) || row);
      const em = parseFloat(getComputedStyle(stretchy).fontSize);
      if (paths.length < 2) problems.push(`brace in "${M.describe(formula)}" is not drawn as SVG paths`);
      if (box.height < 0.4 * em) problems.push(`brace in "${M.describe(formula)}" is ${(box.height / em).toFixed(2)} em tall`);
      if (base.length) {
        const b = M.union(base);
        if (box.left > b.left + 1 || box.right < b.right - 1)
          problems.push(`brace in "${M.describe(formula)}" spans ${box.left.toFixed(1)}-${box.right.toFixed(1)} px, its base ${b.left.toFixed(1)}-${b.right.toFixed(1)} px`);
      }
    }
    // MathML: an <munder> with a brace character (drawn from a font: a line with ticks in Chromium).
    for (const under of formula.querySelectorAll('munder')) {
      if (under.closest('.katex-mathml')) continue;
      if (/\u23df/.test(under.lastElementChild ? under.lastElementChild.textContent : '')) {
        count++;
        problems.push(`brace in "${M.describe(formula)}" is a font glyph, not a drawn brace`);
      }
    }
  }
  return [count, problems];
})()
"""

GENERAL = r"""
(() => {
  const M = window.__maths, problems = [];
  for (const el of document.querySelectorAll('.math code, .katex-error'))
    problems.push(`TeX not typeset: "${el.textContent.slice(0, 60)}"`);
  for (const f of document.fonts)
    if (f.status === 'error') problems.push(`font ${f.family} ${f.weight} failed to load`);
  // A display wider than the text column scrolls inside its own box (the
  // div.math, or KaTeX's .katex-display inside it): nothing is cut off.
  const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  for (const div of document.querySelectorAll('div.math')) {
    for (const display of div.querySelectorAll(':scope > .katex-display')) {
      const wide = display.scrollWidth > display.clientWidth + 1 || display.scrollWidth > div.clientWidth + 1;
      if (wide && !scrolls(display) && !scrolls(div))
        problems.push(`display "${M.describe(div)}" is cut off: neither it nor its box scrolls`);
    }
  }
  // axe leaves KaTeX's visible boxes out (tests/test_browser.py, AXE_CONTEXT):
  // the maths is drawn in the colour of the text around it, on no background
  // of its own, so the contrast axe measures for that text holds for it too.
  const transparent = c => c === 'transparent' || /^rgba\(.*, 0\)$/.test(c);
  for (const html of document.querySelectorAll('.katex-html')) {
    const host = html.closest('.katex').parentElement.closest(':not(.math):not(.katex-display)');
    const colour = getComputedStyle(host).color;
    for (const el of [html, ...html.querySelectorAll('*')]) {
      const style = getComputedStyle(el);
      if (style.color !== colour || !transparent(style.backgroundColor) || style.opacity !== '1') {
        problems.push(`maths "${M.describe(el)}" is not drawn like the text around it (colour ${style.color},` +
                      ` background ${style.backgroundColor}, opacity ${style.opacity}; the text: ${colour})`);
        break;
      }
    }
  }
  return problems;
})()
"""

# Construct page: each construct present, typeset, and right.
CONSTRUCTS = r"""
(() => {
  const M = window.__maths, problems = [];
  const need = ["v\\,\\overline{f'(z)}", "v\\,\\overline{\\partial f/\\partial z}", "f'(x)", "f'''(x)",
                "u'_\\theta(x_n)", "v = \\mathbf{1}", "\\mathbb{R}^N", "\\operatorname{diag}(s)", "|z|"];
  for (const tex of need) if (!M.formulaAfterCode(tex)) problems.push(`construct page: no typeset formula after \`${tex}\``);
  // The maths is drawn in the fonts the site serves (KaTeX's), not in whatever
  // maths font the reader's system has.
  for (const family of ['KaTeX_Main', 'KaTeX_Math', 'KaTeX_AMS', 'KaTeX_Size1'])
    if (![...document.fonts].some(f => f.family.replace(/"/g, '') === family && f.status === 'loaded'))
      problems.push(`construct page: the font ${family} did not load`);
  // \mathbf{1} is visibly bold beside the number 1: a wider glyph from a bold face.
  const pair = M.formulaAfterCode('v = \\mathbf{1}');
  if (pair) {
    const formulas = [...pair.parentElement.querySelectorAll('.math')];
    const ones = formulas.slice(0, 2).map(f => M.glyphs(f).find(g => g.ch === '1'));
    if (ones.length === 2 && ones[0] && ones[1]) {
      const [bold, plain] = ones;
      if (!(bold.right - bold.left > 1.05 * (plain.right - plain.left)))
        problems.push(`\\mathbf{1} (${(bold.right - bold.left).toFixed(2)} px) is not wider than 1 (${(plain.right - plain.left).toFixed(2)} px)`);
      if (Number(getComputedStyle(bold.el).fontWeight) < 600) problems.push('\\mathbf{1} is not bold');
      if (Number(getComputedStyle(plain.el).fontWeight) >= 600) problems.push('the number 1 is bold');
    } else problems.push('construct page: the two 1s of "v = \\mathbf{1} beside v = 1" not found');
  }
  // |z| is symmetric: the gaps between the bars and z are equal.
  const abs = M.formulaAfterCode('|z|');
  if (abs) {
    const g = M.glyphs(abs).map(x => M.ink(x));
    if (g.length >= 3 && g[0].ch === '|' && g[1].ch === 'z' && g[2].ch === '|') {
      const left = g[1].left - g[0].right, right = g[2].left - g[1].right, em = g[1].em;
      if (Math.abs(left - right) > 0.08 * em) problems.push(`|z| is lopsided: ${(left / em).toFixed(2)} em and ${(right / em).toFixed(2)} em`);
    }
  }
  // \operatorname{diag}(s): no gap between the name and its bracket.
  const diag = M.formulaAfterCode('\\operatorname{diag}(s)');
  if (diag) {
    const g = M.glyphs(diag), paren = g.findIndex(x => x.ch === '(');
    if (paren > 0 && g[paren].left - g[paren - 1].right > 0.1 * g[paren].em)
      problems.push(`gap of ${((g[paren].left - g[paren - 1].right) / g[paren].em).toFixed(2)} em between diag and (`);
  }
  return problems;
})()
"""

MINIMUM_ON_CONSTRUCT_PAGE = {"overline": 4, "prime": 6, "bold": 3, "brace": 2}


def maths_problems(page):
    """Problems with the typeset maths on an open page, and how many of each construct it has."""
    page.evaluate(HELPERS)
    page.evaluate("document.fonts.ready.then(() => true)")
    counts, problems = {}, []
    for name, script in [
        ("overline", OVERLINES),
        ("prime", PRIMES),
        ("bold", BOLD),
        ("brace", BRACES),
    ]:
        counts[name], found = page.evaluate(script)
        problems += found
    problems += page.evaluate(GENERAL)
    return counts, problems


def construct_page_problems(page):
    counts, problems = maths_problems(page)
    for name, minimum in MINIMUM_ON_CONSTRUCT_PAGE.items():
        if counts[name] < minimum:
            problems.append(
                f"construct page: {counts[name]} {name}s checked, expected at least {minimum}"
            )
    return problems + page.evaluate(CONSTRUCTS)

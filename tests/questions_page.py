"""What docs/questions.md promises, read from its source and the examples'.

Each question is a level-3 heading (``### ...?``) under a level-2 theme. Its
answer is the first paragraph under it, two to four sentences; the paragraph
after it links, with ``{ref}``, to the labelled sections whose executed code
proves the answer. A label is written directly above a section's heading in
an example's text (``# .. _label:``). A section checks something when its
code asserts: an ``assert``, a ``torch.testing.assert_close``, or a call of a
function the page defines that asserts (such as a ``raised(call, type,
text)`` helper that checks an error's message).

Used by tests/unit/test_questions.py (the sources) and tests/test_site.py
(the built pages, where the same rule is applied to the code shown in each
linked section).
"""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "questions.md"

QUESTION = re.compile(r"^### (.+)$", re.M)
HEADING = re.compile(r"^#{1,3} ", re.M)
REF = re.compile(r"\{ref\}`(?:[^`<]*<)?([^`<>]+?)>?`")
# A sentence ends at . ? or ! followed by a space and what starts a sentence.
SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=[A-Z`\"({\[$*])")
LABEL = re.compile(r"^# \.\. _([\w-]+):$")
UNDERLINE = re.compile(r"^# (-{3,}|~{3,})$")
CHECK = re.compile(r"\bassert\b|\bassert_close\(|raise AssertionError")


def questions(text):
    """[(question, answer paragraph, the paragraphs after it)] of the page TEXT."""
    found = []
    matches = list(QUESTION.finditer(text))
    for match in matches:
        rest = text[match.end() :]
        following = HEADING.search(rest)
        body = rest[: following.start() if following else len(rest)].strip()
        paragraphs = re.split(r"\n\s*\n", body)
        found.append((match[1].strip(), paragraphs[0], "\n\n".join(paragraphs[1:])))
    return found


def sentences(paragraph):
    return [part for part in SENTENCE_END.split(" ".join(paragraph.split())) if part]


def links(text):
    """The labels TEXT links to with {ref}."""
    return REF.findall(text)


def checking_functions(code):
    """Names of the functions CODE defines (at column 0) whose body checks,
    directly or by calling another such function."""
    bodies, name = {}, None
    for line in code.splitlines():
        if line.startswith("def "):
            name = re.match(r"def (\w+)", line)[1]
            bodies[name] = ""
        elif line and not line[0].isspace() and not line.startswith(")"):
            name = None  # back at column 0: the body has ended
        if name:
            bodies[name] += line + "\n"
    checking = {name for name, body in bodies.items() if CHECK.search(body)}
    while True:
        more = {
            name
            for name, body in bodies.items()
            if name not in checking
            and any(re.search(rf"\b{c}\(", body) for c in checking)
        }
        if not more:
            return checking
        checking |= more


def has_check(section_code, page_code):
    """Whether SECTION_CODE asserts, itself or through a checking function of
    the page whose whole code is PAGE_CODE."""
    if CHECK.search(section_code):
        return True
    return any(
        re.search(rf"(?<![\w.]){name}\(", section_code)
        for name in checking_functions(page_code)
    )


def example_sections():
    """{label: (example file, the code of its section, the example's code)}
    for every label written above a section heading of an example."""
    sections = {}
    for path in sorted((REPO / "examples").glob("*/plot_*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        code = "\n".join(line for line in lines if not line.startswith("#"))
        for i, line in enumerate(lines):
            match = LABEL.match(line)
            if not match:
                continue
            # the label, a bare '#', the title, its underline
            if not (
                i + 3 < len(lines)
                and lines[i + 1] == "#"
                and UNDERLINE.match(lines[i + 3])
            ):
                raise ValueError(
                    f"{path}:{i + 1}: label {match[1]} not above a heading"
                )
            level = "-~".index(lines[i + 3][2])
            end = i + 4
            while end < len(lines):
                under = UNDERLINE.match(lines[end])
                if under and "-~".index(under[1][0]) <= level:
                    end -= 1  # the next heading's title line
                    break
                end += 1
            section = "\n".join(
                line for line in lines[i + 4 : end] if not line.startswith("#")
            )
            if match[1] in sections:
                raise ValueError(f"label {match[1]} defined twice")
            sections[match[1]] = (path, section, code)
    return sections

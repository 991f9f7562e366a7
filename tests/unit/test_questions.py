"""docs/questions.md, from the sources: at least forty questions, each with a
two-to-four-sentence answer and links to labelled sections of the examples
whose code checks the answer (tests/questions_page.py says how each is read;
tests/test_site.py checks the same links in the built site)."""

import pytest
from questions_page import (
    PAGE,
    example_sections,
    has_check,
    links,
    questions,
    sentences,
)

TEXT = PAGE.read_text(encoding="utf-8")
QUESTIONS = questions(TEXT)
SECTIONS = example_sections()


def test_at_least_forty_questions_each_a_question():
    assert len(QUESTIONS) >= 40, len(QUESTIONS)
    assert len({question for question, _, _ in QUESTIONS}) == len(QUESTIONS)
    assert [q for q, _, _ in QUESTIONS if not q.endswith("?")] == []


@pytest.mark.parametrize("question, answer, rest", QUESTIONS, ids=range(len(QUESTIONS)))
def test_each_question_is_answered_and_linked_to_a_checked_section(
    question, answer, rest
):
    assert 2 <= len(sentences(answer)) <= 4, sentences(answer)
    assert not links(answer) or links(rest), "the links go in the paragraph after"
    labels = links(rest)
    assert labels, f"no link under {question!r}"
    for label in labels:
        assert label in SECTIONS, f"{label}: no example section has this label"
        path, section, page_code = SECTIONS[label]
        assert has_check(section, page_code), f"{label} ({path.name}) checks nothing"


def test_the_rules_tell_a_check_from_no_check():
    page = "def raised(call):\n    assert call()\n\n\nx = 1\n"
    assert has_check("raised(lambda: 1)", page)
    assert has_check("torch.testing.assert_close(a, b)", "")
    assert not has_check("print(x)", page)
    assert not has_check("y.raised(1)", page)  # a method of the same name
    two = "The answer. Then why?  `x.grad` is None!"
    assert len(sentences(two)) == 3
    assert links("See {ref}`a-b` and {ref}`text <c-d>`.") == ["a-b", "c-d"]

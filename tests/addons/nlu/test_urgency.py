import pytest

from addons.nlu.urgency import UrgencyLexicon

LEXICON = UrgencyLexicon(
    {
        "escalation": ["投诉", "12315", "lawyer"],
        "safety": ["冒烟", "起火", "fire"],
        "negative": ["垃圾", "太差", "terrible", "worst"],
    }
)


@pytest.mark.parametrize(
    ("text", "reasons"),
    [
        ("我要投诉", ["escalation"]),
        ("再不处理我就打12315", ["escalation"]),
        ("my lawyer will contact you", ["escalation"]),
        ("充电器冒烟起火了", ["safety"]),
        ("投诉！充电器冒烟了", ["escalation", "safety"]),
        ("垃圾，太差了", ["negative_sentiment"]),
        ("太差了！！！", ["negative_sentiment"]),
        ("worst service EVER", ["negative_sentiment"]),
        ("太差了", []),
        ("有点慢", []),
        ("firewall settings", []),
    ],
)
def test_reasons(text, reasons):
    assessment = LEXICON.assess(text)
    assert assessment.reasons == reasons
    assert assessment.urgent == bool(reasons)


def test_terms_found_are_reported_as_typed():
    assert LEXICON.assess("我要ＴＯＵＳＵ 投诉 Terrible").terms == ["投诉", "Terrible"]

import pytest

from addons.nlu.text import (
    Gazetteer,
    Segmenter,
    detect_language,
    is_decisive,
    to_half_width,
)


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter()


def words(segmenter: Segmenter, text: str) -> list[str]:
    return [word.text for word in segmenter.words(text)]


def test_mixed_chinese_and_english_split_at_script_boundaries(segmenter):
    assert words(segmenter, "我的order还没到") == ["我", "的", "order", "还", "没到"]


def test_whitespace_never_becomes_a_word(segmenter):
    assert words(segmenter, "  iPhone 15 Pro   怎么 退货？ ") == [
        "iPhone",
        "15",
        "Pro",
        "怎么",
        "退货",
    ]


def test_offsets_point_into_the_original_text(segmenter):
    text = "订单号２４１１０８３０２２１１查一下"
    for word in segmenter.words(text):
        assert to_half_width(text[word.start : word.end]) == word.text
    assert "241108302211" in words(segmenter, text)


def test_emoji_are_words_and_punctuation_is_not(segmenter):
    assert words(segmenter, "坏了😡！！") == ["坏", "了", "😡"]


def test_latin_words_keep_inner_punctuation(segmenter):
    assert words(segmenter, "e-mail a.b@qq.com 3.5mm c++") == [
        "e-mail",
        "a.b@qq.com",
        "3.5mm",
        "c++",
    ]


def test_user_words_stay_whole_and_do_not_leak_to_other_segmenters():
    """Segmenters share jieba's dictionary until they add a word of their own."""
    before = Segmenter()
    custom = Segmenter(["极光手环"])
    later = Segmenter()
    later.add_words(["星河耳机"])
    assert "极光手环" in words(custom, "我的极光手环坏了")
    assert "星河耳机" in words(later, "星河耳机没声音")
    for other in (before, later, Segmenter()):
        assert "极光手环" not in words(other, "我的极光手环坏了")
    for other in (before, custom, Segmenter()):
        assert "星河耳机" not in words(other, "星河耳机没声音")


def test_units_are_characters_for_chinese_and_words_for_latin(segmenter):
    units = segmenter.units("退货AirPods")
    assert [u.text for u in units] == ["退", "货", "AirPods"]
    assert [u.position for u in units[:2]] == ["B", "E"]
    assert units[0].word == "退货"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("我想退货", "zh"),
        ("我的order还没到", "zh"),
        ("Is my 订单 shipped?", "en"),
        ("where is my parcel", "en"),
        ("ＷＨＥＲＥ　ＩＳ　ＭＹ　ＯＲＤＥＲ", "en"),
        ("<b>你好</b>", "zh"),
        ("241108302211", None),
        ("😀👍", None),
        ("", None),
    ],
)
def test_language_of_a_message(text, language):
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("text", "decisive"),
    [("ok", False), ("thx", False), ("thanks", True), ("yes please", True), ("好", True)],
)
def test_short_latin_replies_do_not_switch_the_language(text, decisive):
    assert is_decisive(text) is decisive


def test_gazetteer_prefers_the_longest_phrase_and_respects_latin_word_edges():
    gazetteer = Gazetteer({"product": ["耳机", "声浪Pro降噪耳机", "pro"], "negative": ["垃圾"]})
    found = gazetteer.find("这个声浪PRO降噪耳机是垃圾 product")
    assert [(start, end, set(labels)) for start, end, labels in found] == [
        (2, 11, {"product"}),
        (12, 14, {"negative"}),
    ]
    assert Gazetteer({"x": []}).find("anything") == []

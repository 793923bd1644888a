"""Embedders: the int8 ONNX default agrees with the fp32 model; token counting; errors."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embeddings import count_tokens, get_embeddings, minilm_tokenizer
from rag.errors import ModelMissingError

TEXTS = [
    "Rhodes said the move was a complete violation of the spirit of the agreement.",
    "Yellowstone National Park could partially reopen as early as Monday after historic flooding.",
    "The central bank raised interest rates by three quarters of a percentage point.",
    "Short.",
    " ".join(["A very long text that goes well past the token window of the model."] * 40),
]


def test_count_tokens_without_special_tokens():
    assert count_tokens(["hello world"]) == [2]
    assert count_tokens([]) == []
    assert minilm_tokenizer().max_content_tokens == 254


def test_unknown_model_name_is_a_clear_error(tmp_path):
    with pytest.raises(ModelMissingError, match="neither 'minilm-int8', 'minilm' nor a local"):
        get_embeddings(str(tmp_path / "no-such-model"))


@pytest.mark.slow
def test_int8_agrees_with_fp32_and_is_normalised():
    int8 = np.array(get_embeddings("minilm-int8").embed_documents(TEXTS))
    fp32 = np.array(get_embeddings("minilm").embed_documents(TEXTS))
    assert int8.shape == fp32.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-4)
    cos = (int8 * fp32).sum(axis=1)
    assert cos.min() > 0.97, cos
    q = np.array(get_embeddings("minilm-int8").embed_query(TEXTS[0]))
    assert np.allclose(q, int8[0], atol=1e-5)  # order and batching do not change a vector
    question = np.array(get_embeddings("minilm-int8").embed_query("What did Rhodes say about the agreement?"))
    assert int(np.argmax(int8 @ question)) == 0
    assert get_embeddings("minilm").max_content_tokens == get_embeddings("minilm-int8").max_content_tokens == 254


@pytest.mark.slow
def test_int8_vectors_do_not_depend_on_batch_size_or_workers():
    from rag.embeddings import ONNX_BATCH, OnnxMiniLMEmbeddings, minilm_onnx_path

    texts = TEXTS + [f"Officials in city {i} said the {'storm ' * i}passed." for i in range(9)]
    default = get_embeddings("minilm-int8")
    assert default.batch_size == ONNX_BATCH
    got = default.embed_array(texts)
    for batch, threads in [(1, 1), (8, 2), (32, 1)]:
        other = OnnxMiniLMEmbeddings(minilm_onnx_path(), minilm_tokenizer(), batch_size=batch, threads=threads)
        assert np.allclose(other.embed_array(texts), got, atol=1e-6), (batch, threads)

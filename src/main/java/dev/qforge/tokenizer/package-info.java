/**
 * Tokenizers of Hugging Face models: text to token ids and back, id for id what HF's {@code tokenizers}
 * library computes from a model's tokenizer.json.
 *
 * <p>Supported: BPE models in both families used by Llama-type models: SentencePiece-style BPE with byte
 * fallback (Llama 2, TinyLlama; normalizer Prepend/Replace or Metaspace pre-tokenizer) and byte-level BPE
 * (GPT-2, Qwen2, Llama 3; regex Split + ByteLevel). Unigram and WordPiece models, and step types not listed in
 * {@link dev.qforge.tokenizer.TokenizerJson}, are refused with a message naming the file and the feature.
 *
 * <p>Pipeline ({@link dev.qforge.tokenizer.PipelineTokenizer}): {@link dev.qforge.tokenizer.AddedTokenMatcher}
 * cuts added tokens out of the raw text; {@link dev.qforge.tokenizer.Normalizer} and
 * {@link dev.qforge.tokenizer.PreTokenizer} turn each remaining stretch into words;
 * {@link dev.qforge.tokenizer.BpeModel} encodes each word; {@link dev.qforge.tokenizer.PostProcessor} adds
 * BOS/EOS. Decoding runs {@link dev.qforge.tokenizer.Decoder} over the pieces.
 *
 * <p>Decoding is exact by default: transformers' {@code clean_up_tokenization_spaces} is reported but not
 * applied ({@link dev.qforge.tokenizer.TokenizationSpaces#cleanUp} does it on request). Not implemented because
 * qforge does not need them: offsets, pairs of sequences, truncation and padding settings of tokenizer.json.
 */
package dev.qforge.tokenizer;

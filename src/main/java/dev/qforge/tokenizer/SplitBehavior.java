package dev.qforge.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * What a split pre-tokenizer does with the delimiters it finds (HF's SplitDelimiterBehavior): drop them, keep
 * each as its own piece, glue each to the piece before or after it, or keep runs of them as one piece.
 */
public enum SplitBehavior {
    REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS;

    /**
     * Applies this behaviour to segments that cover the text: starts[i]..starts[i+1] with isMatch[i] telling
     * delimiters apart; appends the resulting non-empty pieces to out.
     */
    void apply(String text, int[] starts, boolean[] isMatch, int count, List<String> out) {
        List<int[]> pieces = new ArrayList<>(count);
        switch (this) {
            case REMOVED -> {
                for (int i = 0; i < count; i++) {
                    if (!isMatch[i]) {
                        pieces.add(new int[]{starts[i], starts[i + 1]});
                    }
                }
            }
            case ISOLATED -> {
                for (int i = 0; i < count; i++) {
                    pieces.add(new int[]{starts[i], starts[i + 1]});
                }
            }
            case MERGED_WITH_PREVIOUS -> {
                boolean previousMatch = false;
                for (int i = 0; i < count; i++) {
                    if (isMatch[i] && !previousMatch && !pieces.isEmpty()) {
                        pieces.getLast()[1] = starts[i + 1];
                    } else {
                        pieces.add(new int[]{starts[i], starts[i + 1]});
                    }
                    previousMatch = isMatch[i];
                }
            }
            case MERGED_WITH_NEXT -> {
                boolean nextMatch = false;
                for (int i = count - 1; i >= 0; i--) {
                    if (isMatch[i] && !nextMatch && !pieces.isEmpty()) {
                        pieces.getLast()[0] = starts[i];
                    } else {
                        pieces.add(new int[]{starts[i], starts[i + 1]});
                    }
                    nextMatch = isMatch[i];
                }
                pieces = pieces.reversed();
            }
            case CONTIGUOUS -> {
                boolean previousMatch = false;
                for (int i = 0; i < count; i++) {
                    if (isMatch[i] && previousMatch) {
                        pieces.getLast()[1] = starts[i + 1];
                    } else {
                        pieces.add(new int[]{starts[i], starts[i + 1]});
                    }
                    previousMatch = isMatch[i];
                }
            }
        }
        for (int[] p : pieces) {
            if (p[1] > p[0]) {
                out.add(text.substring(p[0], p[1]));
            }
        }
    }
}

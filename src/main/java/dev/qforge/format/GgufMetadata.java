package dev.qforge.format;

import dev.qforge.QforgeException;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The key-value metadata of a GGUF file, in file order, with typed accessors. A missing key or a value
 * of the wrong type is a QforgeException naming the file and the key. Integer accessors take any
 * integer type whose value fits; float accessors take FLOAT32 or FLOAT64.
 */
public final class GgufMetadata {
    private final Path source;
    private final Map<String, GgufValue> values;

    /** The values in iteration order; {@code source} names the file in messages. */
    public GgufMetadata(Path source, Map<String, GgufValue> values) {
        this.source = source;
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** All key-value pairs, in file order. */
    public Map<String, GgufValue> asMap() {
        return values;
    }

    public List<String> keys() {
        return List.copyOf(values.keySet());
    }

    public int size() {
        return values.size();
    }

    public boolean contains(String key) {
        return values.containsKey(key);
    }

    /** The value, or null when the key is absent. */
    public GgufValue get(String key) {
        return values.get(key);
    }

    /** The value; absence is an error naming the file and the key. */
    public GgufValue require(String key) {
        GgufValue v = values.get(key);
        if (v == null) {
            throw error(key, "is missing");
        }
        return v;
    }

    public String getString(String key) {
        return stringOf(key, require(key));
    }

    public String getString(String key, String fallback) {
        GgufValue v = values.get(key);
        return v == null ? fallback : stringOf(key, v);
    }

    public long getLong(String key) {
        return longOf(key, require(key));
    }

    public long getLong(String key, long fallback) {
        GgufValue v = values.get(key);
        return v == null ? fallback : longOf(key, v);
    }

    public int getInt(String key) {
        return intOf(key, require(key));
    }

    public int getInt(String key, int fallback) {
        GgufValue v = values.get(key);
        return v == null ? fallback : intOf(key, v);
    }

    public double getDouble(String key) {
        return doubleOf(key, require(key));
    }

    public float getFloat(String key) {
        return (float) getDouble(key);
    }

    public float getFloat(String key, float fallback) {
        GgufValue v = values.get(key);
        return v == null ? fallback : (float) doubleOf(key, v);
    }

    public boolean getBool(String key) {
        return boolOf(key, require(key));
    }

    public boolean getBool(String key, boolean fallback) {
        GgufValue v = values.get(key);
        return v == null ? fallback : boolOf(key, v);
    }

    /** An array value, of any element type. */
    public GgufValue getArray(String key) {
        GgufValue v = require(key);
        if (!v.isArray()) {
            throw mistyped(key, v, "an array");
        }
        return v;
    }

    public List<String> getStringArray(String key) {
        GgufValue v = getArray(key);
        if (v.elementType() != GgufValueType.STRING) {
            throw mistyped(key, v, "an array of STRING");
        }
        return v.toStringList();
    }

    /** A FLOAT32 or FLOAT64 array as floats. */
    public float[] getFloatArray(String key) {
        GgufValue v = getArray(key);
        if (v.elementType() != GgufValueType.FLOAT32 && v.elementType() != GgufValueType.FLOAT64) {
            throw mistyped(key, v, "an array of FLOAT32");
        }
        return v.toFloatArray();
    }

    /** An integer array whose every element fits an int. */
    public int[] getIntArray(String key) {
        GgufValue v = getArray(key);
        if (!v.elementType().isInteger()) {
            throw mistyped(key, v, "an array of integers");
        }
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) {
            long x = v.longAt(i);
            if (x != (int) x || (v.elementType() == GgufValueType.UINT64 && x < 0)) {
                throw error(key, "element " + i + " (" + Long.toUnsignedString(x) + ") does not fit a 32-bit int");
            }
            out[i] = (int) x;
        }
        return out;
    }

    private String stringOf(String key, GgufValue v) {
        if (v.type() != GgufValueType.STRING) {
            throw mistyped(key, v, "a STRING");
        }
        return v.stringAt(0);
    }

    private long longOf(String key, GgufValue v) {
        if (v.isArray() || !v.type().isInteger()) {
            throw mistyped(key, v, "an integer");
        }
        long x = v.longAt(0);
        if (v.type() == GgufValueType.UINT64 && x < 0) {
            throw error(key, "value " + Long.toUnsignedString(x) + " does not fit a 64-bit signed integer");
        }
        return x;
    }

    private int intOf(String key, GgufValue v) {
        long x = longOf(key, v);
        if (x != (int) x) {
            throw error(key, "value " + x + " does not fit a 32-bit int");
        }
        return (int) x;
    }

    private double doubleOf(String key, GgufValue v) {
        if (v.type() != GgufValueType.FLOAT32 && v.type() != GgufValueType.FLOAT64) {
            throw mistyped(key, v, "a FLOAT32");
        }
        return v.doubleAt(0);
    }

    private boolean boolOf(String key, GgufValue v) {
        if (v.type() != GgufValueType.BOOL) {
            throw mistyped(key, v, "a BOOL");
        }
        return v.boolAt(0);
    }

    private QforgeException mistyped(String key, GgufValue v, String expected) {
        String actual = v.isArray() ? "an array of " + v.elementType() : "a " + v.type();
        return error(key, "is " + actual + ", expected " + expected);
    }

    private QforgeException error(String key, String problem) {
        return new QforgeException((source == null ? "GGUF metadata" : source.toString())
                + ": metadata key '" + key + "' " + problem);
    }

    @Override
    public String toString() {
        return values.toString();
    }
}

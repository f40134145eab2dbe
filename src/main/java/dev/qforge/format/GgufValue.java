package dev.qforge.format;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One GGUF metadata value: a scalar or an array (arrays may hold arrays). Values are kept exactly as
 * stored, in a primitive array per element type, so that writing one back gives the same bytes:
 * UINT8/INT8/BOOL in a byte[], UINT16/INT16 in a short[], UINT32/INT32 in an int[], UINT64/INT64 in a
 * long[], FLOAT32 in a float[], FLOAT64 in a double[], STRING as byte[][] (UTF-8 bytes, not decoded,
 * since token strings need not be valid UTF-8) and ARRAY as GgufValue[]. A scalar is a payload of one.
 */
public final class GgufValue {
    private final GgufValueType elementType;
    private final boolean array;
    private final Object payload;
    private final int size;

    private GgufValue(GgufValueType elementType, boolean array, Object payload) {
        this.elementType = elementType;
        this.array = array;
        this.payload = payload;
        this.size = java.lang.reflect.Array.getLength(payload);
    }

    // ---- scalars ----

    public static GgufValue uint8(int v) {
        return new GgufValue(GgufValueType.UINT8, false, new byte[]{(byte) v});
    }

    public static GgufValue int8(int v) {
        return new GgufValue(GgufValueType.INT8, false, new byte[]{(byte) v});
    }

    public static GgufValue uint16(int v) {
        return new GgufValue(GgufValueType.UINT16, false, new short[]{(short) v});
    }

    public static GgufValue int16(int v) {
        return new GgufValue(GgufValueType.INT16, false, new short[]{(short) v});
    }

    /** A UINT32; values up to 2^32 - 1 (the low 32 bits are stored). */
    public static GgufValue uint32(long v) {
        return new GgufValue(GgufValueType.UINT32, false, new int[]{(int) v});
    }

    public static GgufValue int32(int v) {
        return new GgufValue(GgufValueType.INT32, false, new int[]{v});
    }

    /** A UINT64 given by its 64 bits (a negative long stands for a value of 2^63 or more). */
    public static GgufValue uint64(long v) {
        return new GgufValue(GgufValueType.UINT64, false, new long[]{v});
    }

    public static GgufValue int64(long v) {
        return new GgufValue(GgufValueType.INT64, false, new long[]{v});
    }

    public static GgufValue float32(float v) {
        return new GgufValue(GgufValueType.FLOAT32, false, new float[]{v});
    }

    public static GgufValue float64(double v) {
        return new GgufValue(GgufValueType.FLOAT64, false, new double[]{v});
    }

    public static GgufValue bool(boolean v) {
        return new GgufValue(GgufValueType.BOOL, false, new byte[]{(byte) (v ? 1 : 0)});
    }

    public static GgufValue string(String v) {
        return string(v.getBytes(StandardCharsets.UTF_8));
    }

    /** A string given by its bytes as stored (normally UTF-8). */
    public static GgufValue string(byte[] utf8) {
        return new GgufValue(GgufValueType.STRING, false, new byte[][]{utf8.clone()});
    }

    // ---- arrays ----

    /**
     * An array of {@code elementType} whose elements are {@code payload}: the primitive array that type
     * is kept in (see the class comment). The payload is not copied.
     */
    public static GgufValue array(GgufValueType elementType, Object payload) {
        Objects.requireNonNull(payload);
        Class<?> expected = payloadClass(elementType);
        if (payload.getClass() != expected) {
            throw new IllegalArgumentException("an array of " + elementType + " is held in a "
                    + expected.getSimpleName() + ", not a " + payload.getClass().getSimpleName());
        }
        if (elementType == GgufValueType.ARRAY) {
            for (GgufValue v : (GgufValue[]) payload) {
                if (v == null || !v.isArray()) {
                    throw new IllegalArgumentException("an array of arrays holds only arrays");
                }
            }
        }
        if (elementType == GgufValueType.STRING) {
            for (byte[] s : (byte[][]) payload) {
                Objects.requireNonNull(s);
            }
        }
        return new GgufValue(elementType, true, payload);
    }

    public static GgufValue int32Array(int[] values) {
        return array(GgufValueType.INT32, values.clone());
    }

    public static GgufValue uint32Array(int[] values) {
        return array(GgufValueType.UINT32, values.clone());
    }

    public static GgufValue float32Array(float[] values) {
        return array(GgufValueType.FLOAT32, values.clone());
    }

    public static GgufValue stringArray(List<String> values) {
        byte[][] bytes = new byte[values.size()][];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = values.get(i).getBytes(StandardCharsets.UTF_8);
        }
        return array(GgufValueType.STRING, bytes);
    }

    /** A scalar whose one-element payload array was read from a file (keeps a float's exact bits). */
    static GgufValue scalar(GgufValueType type, Object payload) {
        if (type == GgufValueType.ARRAY || payload.getClass() != payloadClass(type)
                || java.lang.reflect.Array.getLength(payload) != 1) {
            throw new IllegalArgumentException("not a scalar payload for " + type);
        }
        return new GgufValue(type, false, payload);
    }

    static Class<?> payloadClass(GgufValueType t) {
        return switch (t) {
            case UINT8, INT8, BOOL -> byte[].class;
            case UINT16, INT16 -> short[].class;
            case UINT32, INT32 -> int[].class;
            case UINT64, INT64 -> long[].class;
            case FLOAT32 -> float[].class;
            case FLOAT64 -> double[].class;
            case STRING -> byte[][].class;
            case ARRAY -> GgufValue[].class;
        };
    }

    // ---- access ----

    /** The stored type: ARRAY for arrays, the scalar's type otherwise. */
    public GgufValueType type() {
        return array ? GgufValueType.ARRAY : elementType;
    }

    /** For an array, the type of its elements; for a scalar, its type. */
    public GgufValueType elementType() {
        return elementType;
    }

    public boolean isArray() {
        return array;
    }

    /** Number of elements (1 for a scalar). */
    public int size() {
        return size;
    }

    /** Element i of an integer value, as a long: unsigned types are zero-extended; a UINT64 gives its raw bits. */
    public long longAt(int i) {
        return switch (elementType) {
            case UINT8 -> ((byte[]) payload)[i] & 0xFFL;
            case INT8 -> ((byte[]) payload)[i];
            case UINT16 -> ((short[]) payload)[i] & 0xFFFFL;
            case INT16 -> ((short[]) payload)[i];
            case UINT32 -> ((int[]) payload)[i] & 0xFFFF_FFFFL;
            case INT32 -> ((int[]) payload)[i];
            case UINT64, INT64 -> ((long[]) payload)[i];
            default -> throw new IllegalStateException("a " + elementType + " is not an integer");
        };
    }

    /** Element i of a FLOAT32 or FLOAT64 value. */
    public double doubleAt(int i) {
        return switch (elementType) {
            case FLOAT32 -> ((float[]) payload)[i];
            case FLOAT64 -> ((double[]) payload)[i];
            default -> throw new IllegalStateException("a " + elementType + " is not a float");
        };
    }

    public boolean boolAt(int i) {
        check(GgufValueType.BOOL);
        return ((byte[]) payload)[i] != 0;
    }

    /** Element i of a STRING value, decoded as UTF-8 (malformed bytes become U+FFFD). */
    public String stringAt(int i) {
        check(GgufValueType.STRING);
        return new String(((byte[][]) payload)[i], StandardCharsets.UTF_8);
    }

    /** The bytes of element i of a STRING value, as stored. */
    public byte[] stringBytesAt(int i) {
        check(GgufValueType.STRING);
        return ((byte[][]) payload)[i].clone();
    }

    public GgufValue arrayAt(int i) {
        check(GgufValueType.ARRAY);
        return ((GgufValue[]) payload)[i];
    }

    /** The elements of a FLOAT32 or FLOAT64 array as floats. */
    public float[] toFloatArray() {
        if (elementType == GgufValueType.FLOAT32) {
            return ((float[]) payload).clone();
        }
        float[] out = new float[size];
        for (int i = 0; i < size; i++) {
            out[i] = (float) doubleAt(i);
        }
        return out;
    }

    /** The elements of an integer array as longs (UINT64 as raw bits). */
    public long[] toLongArray() {
        long[] out = new long[size];
        for (int i = 0; i < size; i++) {
            out[i] = longAt(i);
        }
        return out;
    }

    public List<String> toStringList() {
        check(GgufValueType.STRING);
        List<String> out = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            out.add(stringAt(i));
        }
        return out;
    }

    /** The payload array itself (see the class comment), for writers; callers must not modify it. */
    Object payload() {
        return payload;
    }

    private void check(GgufValueType t) {
        if (elementType != t) {
            throw new IllegalStateException("a " + elementType + " value is not a " + t);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufValue v && v.elementType == elementType && v.array == array
                && Arrays.deepEquals(new Object[]{payload}, new Object[]{v.payload});
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(new Object[]{payload}) * 31 + elementType.hashCode() + (array ? 1 : 0);
    }

    /** The scalar's value, or the array's type and length with its first few elements. */
    @Override
    public String toString() {
        if (!array) {
            return element(0);
        }
        StringBuilder sb = new StringBuilder("[").append(elementType).append(" × ").append(size).append(": ");
        for (int i = 0; i < Math.min(size, 8); i++) {
            sb.append(i == 0 ? "" : ", ").append(element(i));
        }
        return sb.append(size > 8 ? ", …]" : "]").toString();
    }

    private String element(int i) {
        return switch (elementType) {
            case FLOAT32 -> Float.toString(((float[]) payload)[i]);
            case FLOAT64 -> Double.toString(((double[]) payload)[i]);
            case BOOL -> Boolean.toString(boolAt(i));
            case STRING -> "'" + stringAt(i) + "'";
            case ARRAY -> arrayAt(i).toString();
            case UINT64 -> Long.toUnsignedString(longAt(i));
            default -> Long.toString(longAt(i));
        };
    }
}

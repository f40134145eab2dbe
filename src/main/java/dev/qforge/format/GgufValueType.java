package dev.qforge.format;

/**
 * The metadata value types of GGUF (enum gguf_type) with their ids as stored in the file and, for the
 * fixed-size ones, their byte size. STRING is a u64 length and that many UTF-8 bytes; ARRAY is an
 * element type, a u64 count and the elements.
 */
public enum GgufValueType {
    UINT8(0, 1), INT8(1, 1), UINT16(2, 2), INT16(3, 2), UINT32(4, 4), INT32(5, 4), FLOAT32(6, 4), BOOL(7, 1),
    STRING(8, 0), ARRAY(9, 0), UINT64(10, 8), INT64(11, 8), FLOAT64(12, 8);

    private static final GgufValueType[] BY_ID = values();

    private final int id;
    private final int byteSize;

    GgufValueType(int id, int byteSize) {
        this.id = id;
        this.byteSize = byteSize;
    }

    public int id() {
        return id;
    }

    /** Bytes of one value; 0 for STRING and ARRAY, whose size depends on their content. */
    public int byteSize() {
        return byteSize;
    }

    /** The fewest bytes one value of this type can take in a file: what bounds a declared count. */
    public int minEncodedSize() {
        return switch (this) {
            case STRING -> 8;
            case ARRAY -> 12;
            default -> byteSize;
        };
    }

    public boolean isInteger() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    /** The type of an id, or null for an unknown id. */
    public static GgufValueType byId(int id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[id] : null;
    }
}

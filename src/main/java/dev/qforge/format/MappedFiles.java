package dev.qforge.format;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;

/**
 * Files mapped read-only into memory, handed out as plain native segments rather than as the mapped-segment class
 * that {@link FileChannel#map(FileChannel.MapMode, long, long, Arena)} returns.
 *
 * <p>Why: HotSpot keeps one type profile per bytecode of the JDK's segment and vector-load code, shared by every
 * caller. A prefill that read the mapped weights through that code before the first decode left profiles dominated by
 * the mapped class; the decode kernels, which read their packed copies (plain native memory), were then compiled with a
 * speculation that failed on their first call ({@code profile_predicate} trap at the loop entry), and the recompiled
 * kernels kept their bounds checks in the loop. The whole decode then ran 6-10 % slower for the life of the process
 * (Q8_0 1B decode after a prefill: 21.3-21.6 tok/s against 23.0-23.7 with this class). With every weight segment of one
 * class the profiles stay clean whatever runs first.
 */
public final class MappedFiles {
    private MappedFiles() {
    }

    /**
     * size bytes of channel from offset, mapped read-only for as long as arena is open (size &gt; 0), as a read-only
     * native segment.
     */
    public static MemorySegment mapReadOnly(FileChannel channel, long offset, long size, Arena arena)
            throws IOException {
        MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, offset, size, arena);
        try {
            // the same memory and lifetime: the mapping is released when arena closes, and this view dies with it
            return MemorySegment.ofAddress(mapped.address()).reinterpret(size, arena, null).asReadOnly();
        } catch (IllegalCallerException e) {
            return mapped; // native access denied to this module (--illegal-native-access=deny): slower, still right
        }
    }
}

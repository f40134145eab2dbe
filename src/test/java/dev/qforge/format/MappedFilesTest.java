package dev.qforge.format;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A mapped file reads as its bytes, through the plain native segment class that the kernels' own memory has. */
class MappedFilesTest {
    @TempDir
    Path dir;

    @Test
    void aMappedRangeIsAReadOnlyNativeSegmentThatClosesWithItsArena() throws IOException {
        byte[] bytes = new byte[10_000];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i * 31 + 7);
        }
        Path p = dir.resolve("f.bin");
        Files.write(p, bytes);
        MemorySegment seg;
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            seg = MappedFiles.mapReadOnly(ch, 4096, 5000, arena);
            assertEquals(5000, seg.byteSize());
            byte[] expected = java.util.Arrays.copyOfRange(bytes, 4096, 9096);
            assertArrayEquals(expected, seg.toArray(ValueLayout.JAVA_BYTE));
            assertTrue(seg.isReadOnly());
            assertThrows(IllegalArgumentException.class, () -> seg.set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
            // the class of allocated native memory (the decode layouts' packed copies), not the mapped-segment class:
            // one class for all weights keeps HotSpot's shared type profiles of the segment code clean
            assertEquals(arena.allocate(8).getClass(), seg.getClass());
        }
        assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_BYTE, 0));
    }
}

package dev.qforge.kernel;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;

class HugePageMemoryTest {
    @Test
    void largeAndSmallAllocationsAreZeroedWritableAndAligned() {
        for (long bytes : new long[] {100, (3L << 20) + 5}) {
            MemorySegment s = HugePageMemory.allocate(bytes, java.lang.foreign.Arena.ofAuto());
            assertEquals(bytes, s.byteSize());
            assertEquals(0, s.address() % 64, "aligned to 64");
            for (long o = 0; o < bytes; o += 4093) {
                assertEquals(0, s.get(ValueLayout.JAVA_BYTE, o), "zero at " + o);
            }
            if (bytes > (2L << 20) && System.getProperty("os.name").startsWith("Linux")) {
                // the mmap path, not the fallback: huge-page aligned
                assertEquals(0, s.address() % (2L << 20), "aligned to a 2 MiB page");
            }
            s.set(ValueLayout.JAVA_BYTE, bytes - 1, (byte) 7);
            assertEquals(7, s.get(ValueLayout.JAVA_BYTE, bytes - 1));
        }
    }
}

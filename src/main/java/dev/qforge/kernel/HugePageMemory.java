package dev.qforge.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Zero-filled native memory for large arrays that kernels stream, backed by transparent huge pages where
 * Linux allows it: anonymous mmap, madvise(MADV_HUGEPAGE) before the first touch (this machine's THP
 * setting is "madvise"), munmap when the arena closes. With 4 KiB pages a streaming
 * kernel takes a TLB miss every 4 KiB and the hardware prefetcher stops at each page boundary (measured on
 * the 1B Q4_0 decode, three paired runs: +27 %, −1 %, +9 %). Elsewhere, or when a call fails, it falls back
 * to an ordinary allocation. The huge page is taken as 2 MiB (x86-64); where it is larger the madvise hint
 * still applies, only the alignment is less useful.
 */
final class HugePageMemory {
    private static final long HUGE_PAGE = 2L << 20;
    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
    private static final int MADV_HUGEPAGE = 14;
    private static final MethodHandle MMAP;
    private static final MethodHandle MADVISE;
    private static final MethodHandle MUNMAP;

    static {
        MethodHandle mmap = null;
        MethodHandle madvise = null;
        MethodHandle munmap = null;
        if (System.getProperty("os.name", "").startsWith("Linux")) {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                Optional<MemorySegment> m = libc.find("mmap");
                Optional<MemorySegment> a = libc.find("madvise");
                Optional<MemorySegment> u = libc.find("munmap");
                if (m.isPresent() && a.isPresent() && u.isPresent()) {
                    mmap = linker.downcallHandle(m.get(), FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                            ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                            ValueLayout.JAVA_LONG));
                    madvise = linker.downcallHandle(a.get(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                            ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
                    munmap = linker.downcallHandle(u.get(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                            ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
                }
            } catch (RuntimeException | LinkageError e) {
                mmap = null; // no native access: ordinary allocations
            }
        }
        MMAP = mmap;
        MADVISE = madvise;
        MUNMAP = munmap;
    }

    private HugePageMemory() {
    }

    /** bytes of zeroed memory, 64-byte aligned, freed when arena closes. */
    static MemorySegment allocate(long bytes, Arena arena) {
        if (MMAP != null && bytes >= HUGE_PAGE && !Boolean.getBoolean("qforge.smallPages")) {
            try {
                long size = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
                // over-allocate by one huge page so the start can be aligned to one
                long mapped = size + HUGE_PAGE;
                MemorySegment base = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, mapped, PROT_READ_WRITE,
                        MAP_PRIVATE_ANONYMOUS, -1, 0L);
                if (base.address() != -1L) { // MAP_FAILED
                    try {
                        long aligned = (base.address() + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
                        MemorySegment region = MemorySegment.ofAddress(aligned);
                        int ignored = (int) MADVISE.invokeExact(region, size, MADV_HUGEPAGE); // a hint: failure is fine
                        return region.reinterpret(bytes, arena, s -> unmap(base, mapped));
                    } catch (Throwable e) {
                        unmap(base, mapped);
                        throw e;
                    }
                }
            } catch (Throwable e) {
                // fall through to an ordinary allocation
            }
        }
        return arena.allocate(bytes, 64);
    }

    private static void unmap(MemorySegment base, long bytes) {
        try {
            int ignored = (int) MUNMAP.invokeExact(base, bytes);
        } catch (Throwable e) {
            // nothing to do: the address space stays reserved
        }
    }
}

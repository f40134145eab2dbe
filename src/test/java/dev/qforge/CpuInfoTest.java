package dev.qforge;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class CpuInfoTest {
    @Test
    void aKeyThatIsNotThereIsEmpty() {
        assertEquals("", CpuInfo.field("no such key"));
    }

    @Test
    void theFirstProcessorsFieldsAreRead() {
        assumeTrue(Files.isReadable(Path.of("/proc/cpuinfo")), "no /proc/cpuinfo here (not Linux)");
        assertEquals("0", CpuInfo.field("processor"));
    }
}

package dev.qforge.quant.allocation;

import dev.qforge.QforgeException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SizeBudgetTest {
    @Test
    void bytesAndUnits() {
        assertEquals(3622368, SizeBudget.ofSize("3622368").bytes());
        assertEquals(2_400_000_000L, SizeBudget.ofSize("2.4GB").bytes());
        assertEquals(2_400_000_000L, SizeBudget.ofSize("2.4 gb").bytes());
        assertEquals(860L << 20, SizeBudget.ofSize("860MiB").bytes());
        assertEquals(512_000, SizeBudget.ofSize("512K").bytes());
        assertEquals(8_392_960L * 35 / 80, SizeBudget.ofBitsPerWeight(3.5, 8_392_960L).bytes());
    }

    @Test
    void nonsenseIsAOneLineError() {
        for (String s : new String[]{"", "abc", "-5", "3.5XB", "0", "1e30GB"}) {
            QforgeException e = assertThrows(QforgeException.class, () -> SizeBudget.ofSize(s), s);
            assertTrue(e.getMessage().startsWith("--target-size"), e.getMessage());
        }
        assertThrows(QforgeException.class, () -> SizeBudget.ofBitsPerWeight(0, 100));
        assertThrows(QforgeException.class, () -> SizeBudget.ofBitsPerWeight(Double.NaN, 100));
    }
}

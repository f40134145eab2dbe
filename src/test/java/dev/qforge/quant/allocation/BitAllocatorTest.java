package dev.qforge.quant.allocation;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BitAllocatorTest {
    /** Sizes and costs shaped like a model's: per tensor, types of 2.6 to 16 bits, costs falling ~4× per bit. */
    private static List<List<BitAllocator.Option>> problem(SplittableRandom rnd, int tensors) {
        double[] bits = {2.625, 3.4375, 4.25, 4.5, 5.5, 6.5625, 8.5, 16};
        List<List<BitAllocator.Option>> p = new ArrayList<>();
        for (int t = 0; t < tensors; t++) {
            long weights = 256L * (1 + rnd.nextInt(16));
            double sensitivity = Math.exp(rnd.nextDouble(-4, 4));
            List<BitAllocator.Option> opts = new ArrayList<>();
            for (double b : bits) {
                double cost = sensitivity * Math.pow(4, -b) * (1 + rnd.nextDouble(-0.3, 0.3));
                opts.add(new BitAllocator.Option(Double.toString(b), (long) (weights * b / 8), cost));
            }
            p.add(opts);
        }
        return p;
    }

    /** The exact optimum by enumeration (small problems only). */
    private static double bruteForce(List<List<BitAllocator.Option>> p, long budget) {
        return search(p, 0, budget, 0);
    }

    private static double search(List<List<BitAllocator.Option>> p, int t, long left, double cost) {
        if (t == p.size()) {
            return cost;
        }
        double best = Double.POSITIVE_INFINITY;
        for (BitAllocator.Option o : p.get(t)) {
            if (o.bytes() <= left) {
                best = Math.min(best, search(p, t + 1, left - o.bytes(), cost + o.cost()));
            }
        }
        return best;
    }

    @Test
    void withinTheBudgetBoundedBelowByTheRelaxationAndNearTheExactOptimum() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int trial = 0; trial < 40; trial++) {
            List<List<BitAllocator.Option>> p = problem(rnd, 5);
            long min = BitAllocator.minimumBytes(p);
            long max = p.stream().mapToLong(o -> o.stream().mapToLong(BitAllocator.Option::bytes).max().orElseThrow()).sum();
            long budget = min + (long) (rnd.nextDouble() * (max - min));
            BitAllocator.Solution s = BitAllocator.solve(p, budget);
            long bytes = 0;
            double cost = 0;
            for (int t = 0; t < p.size(); t++) {
                bytes += p.get(t).get(s.choice()[t]).bytes();
                cost += p.get(t).get(s.choice()[t]).cost();
            }
            assertEquals(bytes, s.bytes());
            assertEquals(cost, s.cost(), 1e-12 * cost);
            assertTrue(bytes <= budget, bytes + " > " + budget);
            double exact = bruteForce(p, budget);
            assertTrue(s.lowerBound() <= exact * (1 + 1e-9), "the relaxation bounds the optimum: " + s.lowerBound() + " vs " + exact);
            assertEquals(exact, s.cost(), 1e-9 * exact, "the dynamic program finds the exact optimum");
        }
    }

    @Test
    void aCoarseUnitStillFitsTheBudget() {
        SplittableRandom rnd = new SplittableRandom(5);
        List<List<BitAllocator.Option>> p = problem(rnd, 300);
        // sizes made coprime so that the unit is a 200,000th of the budget and sizes are rounded up to it
        List<List<BitAllocator.Option>> odd = p.stream().map(o -> o.stream()
                .map(x -> new BitAllocator.Option(x.label(), x.bytes() * 1000 + 7, x.cost())).toList()).toList();
        long min = BitAllocator.minimumBytes(odd);
        long budget = min + min / 2;
        BitAllocator.Solution s = BitAllocator.solve(odd, budget);
        assertTrue(s.bytes() <= budget);
        assertTrue(s.cost() <= s.lowerBound() * 1.01, s.cost() + " vs bound " + s.lowerBound());
    }

    @Test
    void manyTensorsCloseTheGapToTheBound() {
        SplittableRandom rnd = new SplittableRandom(11);
        List<List<BitAllocator.Option>> p = problem(rnd, 200);
        long min = BitAllocator.minimumBytes(p);
        BitAllocator.Solution s = BitAllocator.solve(p, min + (min * 3) / 5);
        assertTrue(s.cost() <= s.lowerBound() * 1.01, "within 1 % of the relaxation: " + s.cost() + " vs " + s.lowerBound());
    }

    @Test
    void moreBytesNeverCostMore() {
        SplittableRandom rnd = new SplittableRandom(3);
        List<List<BitAllocator.Option>> p = problem(rnd, 60);
        long min = BitAllocator.minimumBytes(p);
        double previous = Double.POSITIVE_INFINITY;
        for (int i = 0; i <= 20; i++) {
            BitAllocator.Solution s = BitAllocator.solve(p, min + min * i / 10);
            assertTrue(s.cost() <= previous * (1 + 1e-12), "budget step " + i);
            previous = s.cost();
        }
    }

    @Test
    void dominatedOptionsAreNeverChosenAndTheAnswerIsDeterministic() {
        List<BitAllocator.Option> t = List.of(new BitAllocator.Option("a", 100, 1.0), new BitAllocator.Option("worse-and-bigger", 150, 1.5),
                new BitAllocator.Option("b", 200, 0.25), new BitAllocator.Option("above-the-hull", 300, 0.24),
                new BitAllocator.Option("c", 400, 0.01));
        assertArrayEquals(new int[]{0, 2, 4}, BitAllocator.hull(t));
        List<List<BitAllocator.Option>> p = List.of(t, t, t);
        BitAllocator.Solution s1 = BitAllocator.solve(p, 700);
        BitAllocator.Solution s2 = BitAllocator.solve(p, 700);
        assertArrayEquals(s1.choice(), s2.choice());
        // the relaxation's greedy stops at b, b, b (600 bytes, 0.75); the exact program uses the last 100 bytes on an
        // option off the hull: b, b and the 300-byte one (0.74)
        assertEquals(700, s1.bytes());
        assertEquals(0.74, s1.cost(), 1e-12);
        for (int c : s1.choice()) {
            assertTrue(c != 1, "an option both bigger and worse than another is never chosen");
        }
        assertThrows(IllegalArgumentException.class, () -> BitAllocator.solve(p, 299));
    }
}

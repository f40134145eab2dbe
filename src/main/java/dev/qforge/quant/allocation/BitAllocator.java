package dev.qforge.quant.allocation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.PriorityQueue;

/**
 * The choice of one option per tensor — a type with its size and expected cost (KL divergence) — that minimizes the
 * total cost within a byte budget: a multiple-choice knapsack. Solved by its Lagrangian relaxation: on each
 * tensor's lower convex hull of (bytes, cost), upgrades are taken in order of cost saved per byte (the order in
 * which a falling price λ of a byte would buy them), each if it still fits; an upgrade that does not fit is
 * skipped with the rest of its tensor's hull, and cheaper upgrades of other tensors still fill the remainder. The
 * fractional completion of the first upgrade that did not fit is the relaxation's optimum, a lower bound on any
 * allocation's cost: the gap to it says how near-optimal the answer is. Then an exact dynamic program over the
 * budget in units of the options' common divisor (or of a 200,000th of the budget, sizes rounded up, where that
 * divisor would make too many states) — exact for a model's tensors, whose sizes share large divisors — and the
 * better of the two answers is kept. Ties break by tensor order, so the result is deterministic.
 */
public final class BitAllocator {
    /** One way to store a tensor. */
    public record Option(String label, long bytes, double cost) {
    }

    /** The chosen option index per tensor, their total bytes and cost, and the relaxation's lower bound on the cost. */
    public record Solution(int[] choice, long bytes, double cost, double lowerBound) {
    }

    private BitAllocator() {
    }

    /** The smallest bytes any allocation needs: every tensor at its smallest option. */
    public static long minimumBytes(List<List<Option>> tensors) {
        long sum = 0;
        for (List<Option> opts : tensors) {
            sum += opts.stream().mapToLong(Option::bytes).min().orElseThrow();
        }
        return sum;
    }

    /** The allocation of at most {@code budget} bytes with the least cost; the budget must hold {@link #minimumBytes}. */
    public static Solution solve(List<List<Option>> tensors, long budget) {
        int n = tensors.size();
        int[][] hulls = new int[n][];
        int[] choice = new int[n];
        int[] position = new int[n];
        long bytes = 0;
        double cost = 0;
        for (int t = 0; t < n; t++) {
            hulls[t] = hull(tensors.get(t));
            choice[t] = hulls[t][0];
            Option o = tensors.get(t).get(choice[t]);
            bytes += o.bytes();
            cost += o.cost();
        }
        if (bytes > budget) {
            throw new IllegalArgumentException("budget " + budget + " below the minimum " + bytes);
        }
        // upgrades by cost saved per byte, greatest first; a tensor's next upgrade enters when its previous is taken
        PriorityQueue<double[]> queue = new PriorityQueue<>((a, b) -> a[0] != b[0] ? Double.compare(b[0], a[0]) : Double.compare(a[1], b[1]));
        for (int t = 0; t < n; t++) {
            offer(queue, tensors, hulls, t, 0);
        }
        double bound = Double.NaN;
        while (!queue.isEmpty()) {
            double[] u = queue.poll();
            int t = (int) u[1];
            int at = (int) u[2];
            Option from = tensors.get(t).get(hulls[t][at]);
            Option to = tensors.get(t).get(hulls[t][at + 1]);
            long extra = to.bytes() - from.bytes();
            if (bytes + extra <= budget) {
                bytes += extra;
                cost += to.cost() - from.cost();
                choice[t] = hulls[t][at + 1];
                position[t] = at + 1;
                offer(queue, tensors, hulls, t, at + 1);
            } else if (Double.isNaN(bound)) {
                // the LP optimum takes this upgrade in part and nothing after it
                bound = cost - (from.cost() - to.cost()) * (double) (budget - bytes) / extra;
            }
        }
        // summed afresh: the running sum of differences loses the small costs' last digits
        cost = total(tensors, choice);
        if (Double.isNaN(bound)) {
            bound = cost;
        }
        int[] exact = dynamicProgram(tensors, budget);
        if (exact != null && total(tensors, exact) < cost) {
            choice = exact;
            cost = total(tensors, exact);
            bytes = 0;
            for (int t = 0; t < n; t++) {
                bytes += tensors.get(t).get(choice[t]).bytes();
            }
        }
        return new Solution(choice, bytes, cost, Math.min(bound, cost));
    }

    /** States of the dynamic program at most (budget units). */
    private static final int MAX_UNITS = 200_000;

    /**
     * The least-cost choice within the budget by dynamic programming over the budget in units; sizes are rounded
     * up to whole units, so the answer always fits (and is the exact optimum when the unit divides every size).
     * Null when the rounding leaves no feasible answer.
     */
    static int[] dynamicProgram(List<List<Option>> tensors, long budget) {
        long unit = 0;
        for (List<Option> opts : tensors) {
            for (Option o : opts) {
                unit = gcd(unit, o.bytes());
            }
        }
        unit = Math.max(Math.max(unit, 1), (budget + MAX_UNITS - 1) / MAX_UNITS);
        int capacity = (int) Math.min(budget / unit, MAX_UNITS);
        int n = tensors.size();
        double[] best = new double[capacity + 1];
        double[] next = new double[capacity + 1];
        byte[][] pick = new byte[n][capacity + 1];
        // best[c]: the least cost of the tensors so far within c units
        java.util.Arrays.fill(best, 0);
        for (int t = 0; t < n; t++) {
            List<Option> opts = tensors.get(t);
            if (opts.size() > Byte.MAX_VALUE) {
                return null;
            }
            java.util.Arrays.fill(next, Double.POSITIVE_INFINITY);
            for (int k = 0; k < opts.size(); k++) {
                int w = (int) Math.min((opts.get(k).bytes() + unit - 1) / unit, capacity + 1L);
                double c = opts.get(k).cost();
                byte kb = (byte) k;
                for (int cap = w; cap <= capacity; cap++) {
                    double v = best[cap - w] + c;
                    if (v < next[cap]) {
                        next[cap] = v;
                        pick[t][cap] = kb;
                    }
                }
            }
            double[] swap = best;
            best = next;
            next = swap;
        }
        if (Double.isInfinite(best[capacity])) {
            return null;
        }
        int[] choice = new int[n];
        int cap = capacity;
        for (int t = n - 1; t >= 0; t--) {
            int k = pick[t][cap];
            choice[t] = k;
            cap -= (int) ((tensors.get(t).get(k).bytes() + unit - 1) / unit);
        }
        return choice;
    }

    private static long gcd(long a, long b) {
        while (b != 0) {
            long r = a % b;
            a = b;
            b = r;
        }
        return a;
    }

    private static double total(List<List<Option>> tensors, int[] choice) {
        double cost = 0;
        for (int t = 0; t < choice.length; t++) {
            cost += tensors.get(t).get(choice[t]).cost();
        }
        return cost;
    }

    private static void offer(PriorityQueue<double[]> queue, List<List<Option>> tensors, int[][] hulls, int t, int at) {
        if (at + 1 >= hulls[t].length) {
            return;
        }
        Option from = tensors.get(t).get(hulls[t][at]);
        Option to = tensors.get(t).get(hulls[t][at + 1]);
        double saved = (from.cost() - to.cost()) / (double) (to.bytes() - from.bytes());
        queue.add(new double[]{saved, t, at});
    }

    /**
     * The indices of the options on the lower convex hull of (bytes, cost), by increasing bytes: an option that
     * costs more than a smaller one, or lies above the line between its neighbours, is never worth choosing in
     * the relaxation.
     */
    static int[] hull(List<Option> options) {
        Integer[] order = new Integer[options.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> {
            Option x = options.get(a);
            Option y = options.get(b);
            return x.bytes() != y.bytes() ? Long.compare(x.bytes(), y.bytes()) : Double.compare(x.cost(), y.cost());
        });
        List<Integer> h = new ArrayList<>();
        for (int i : order) {
            Option o = options.get(i);
            if (!h.isEmpty()) {
                Option last = options.get(h.getLast());
                if (o.bytes() == last.bytes() || o.cost() >= last.cost()) {
                    continue; // same size and no cheaper, or bigger and no better
                }
            }
            while (h.size() >= 2) {
                Option a = options.get(h.get(h.size() - 2));
                Option b = options.get(h.getLast());
                // b is above the segment a–o when the slope a→b is flatter than a→o
                double ab = (b.cost() - a.cost()) / (double) (b.bytes() - a.bytes());
                double ao = (o.cost() - a.cost()) / (double) (o.bytes() - a.bytes());
                if (ab >= ao) {
                    h.removeLast();
                } else {
                    break;
                }
            }
            h.add(i);
        }
        return h.stream().mapToInt(Integer::intValue).toArray();
    }
}

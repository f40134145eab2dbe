package dev.qforge.hub;

import java.time.Duration;

/**
 * How often a request is tried when the network or the server fails transiently (connection refused or
 * reset, 5xx, 429), and how long to wait in between. Bounded, so an offline machine gets its error in
 * about a second instead of hanging; tests pass a tiny delay to stay fast.
 *
 * @param tries      attempts in total, at least 1
 * @param firstDelay wait after the first failure; doubled after each further one
 */
public record RetryPolicy(int tries, Duration firstDelay) {
    public static final RetryPolicy DEFAULT = new RetryPolicy(3, Duration.ofMillis(500));

    public RetryPolicy {
        if (tries < 1) {
            throw new IllegalArgumentException("tries must be at least 1");
        }
    }

    /** Sleeps before attempt {@code failures + 1}. */
    void pause(int failures) {
        long millis = firstDelay.toMillis() << Math.min(failures - 1, 10);
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new dev.qforge.QforgeException("interrupted while waiting to retry");
        }
    }
}

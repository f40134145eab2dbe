package dev.qforge;

/**
 * A problem the user can fix: a malformed or missing file, a wrong option, an unsupported model.
 * The message is one line that names the file (or option) and the problem; the CLI prints it without
 * a stack trace and exits non-zero. Bugs in qforge itself are not this exception.
 */
public class QforgeException extends RuntimeException {
    public QforgeException(String message) {
        super(message);
    }

    public QforgeException(String message, Throwable cause) {
        super(message, cause);
    }
}

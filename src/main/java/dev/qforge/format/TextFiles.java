package dev.qforge.format;

import dev.qforge.QforgeException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reading evaluation and calibration text. */
public final class TextFiles {
    private TextFiles() {
    }

    /** The file as strict UTF-8; invalid bytes are an error naming the file rather than silent replacement. */
    public static String readUtf8(Path file) {
        try {
            byte[] bytes = Files.readAllBytes(file);
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (NoSuchFileException e) {
            throw new QforgeException(file + ": no such file");
        } catch (CharacterCodingException e) {
            throw new QforgeException(file + ": not valid UTF-8 text");
        } catch (IOException e) {
            throw new QforgeException(file + ": cannot read: " + e.getMessage());
        }
    }
}

package dev.kvasir.models.loader;

import java.nio.file.Path;

/** A model file or directory that cannot be loaded; the message names the file and what is wrong. */
public class ModelFormatException extends RuntimeException {

    public ModelFormatException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public ModelFormatException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}

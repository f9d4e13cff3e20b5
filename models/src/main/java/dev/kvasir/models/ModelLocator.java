package dev.kvasir.models;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the small test models live: {@code $KVASIR_TEST_MODELS}, else {@code ../shared/models}
 * beside the checkout (found by walking up from the working directory, so it works from any
 * module). Used by tests and by {@code serve} for its default model.
 */
public final class ModelLocator {

    private ModelLocator() {}

    /** The test-models directory, or null when none can be found. */
    public static Path testModelsDir() {
        String env = System.getenv("KVASIR_TEST_MODELS");
        if (env != null && !env.isBlank()) return Path.of(env);
        String fromBuild = System.getenv("KVASIR_TEST_MODELS_DEFAULT");
        if (fromBuild != null && Files.isDirectory(Path.of(fromBuild))) return Path.of(fromBuild).normalize();
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("../shared/models").normalize();
            if (Files.isDirectory(candidate)) return candidate;
        }
        return null;
    }

    /** A file in the test-models directory; throws with the searched location when absent. */
    public static Path testModel(String fileName) {
        Path dir = testModelsDir();
        Path file = dir == null ? null : dir.resolve(fileName);
        if (file == null || !Files.isRegularFile(file)) {
            throw new IllegalStateException("test model " + fileName + " not found (looked in "
                    + (dir == null ? "$KVASIR_TEST_MODELS and ../shared/models" : dir)
                    + "); set KVASIR_TEST_MODELS to the folder holding it");
        }
        return file;
    }
}

package dev.kvasir.server;

import java.nio.file.Files;
import java.nio.file.Path;

/** Files of the repository (deploy/, README.md) for tests that check them, found from the working directory. */
final class RepositoryFiles {

    private RepositoryFiles() {}

    /** {@code path} under the first folder above the working directory (the module's, under Maven) that has it. */
    static Path resolve(String path) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.exists(dir.resolve(path))) return dir.resolve(path);
        }
        throw new IllegalStateException(path + " not found above " + Path.of("").toAbsolutePath());
    }
}

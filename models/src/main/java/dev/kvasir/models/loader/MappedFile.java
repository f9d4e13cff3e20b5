package dev.kvasir.models.loader;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Maps a whole file read-only into a shared arena and hands it to a parser; the arena is closed if parsing fails. */
final class MappedFile {

    /** Builds the parsed file from its arena (which it then owns) and the mapping. */
    interface Parser<T> {
        T parse(Path path, Arena arena, MemorySegment file);
    }

    private MappedFile() {}

    static <T> T open(Path path, Parser<T> parser) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment file;
            try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
                file = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            }
            return parser.parse(path, arena, file);
        } catch (IOException e) {
            arena.close();
            throw new ModelFormatException(path, "cannot read: " + e, e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }
}

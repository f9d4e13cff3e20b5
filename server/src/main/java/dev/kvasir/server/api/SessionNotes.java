package dev.kvasir.server.api;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What memory put into each earlier turn of a session: the note (a rendered memory block) placed
 * before the turn's user message, and the memories it named. The next turn puts every note back
 * exactly where it was and adds only memories not yet in the session, right before the new user
 * message, so consecutive turns' prompts share everything but the new turn: the prefix cache then
 * serves the whole conversation so far. Kept in memory for the most recent sessions (a replica
 * behind a router that hashes on the user sees all of a user's turns); a session this replica never
 * saw starts from its current turn.
 */
final class SessionNotes {

    /** Sessions remembered at most; the least recently used is dropped. */
    static final int MAX_SESSIONS = 10_000;

    /** The note before user turn {@code turn} (0-based count of the session's user messages). */
    record Note(int turn, String block, List<String> ids) {}

    private record Key(String tenant, String user, String session) {}

    private final Map<Key, List<Note>> sessions = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, List<Note>> eldest) {
            return size() > MAX_SESSIONS;
        }
    };

    /** The session's notes, oldest turn first. */
    synchronized List<Note> notes(String tenant, String user, String session) {
        List<Note> n = sessions.get(new Key(tenant, user, session));
        return n == null ? List.of() : List.copyOf(n);
    }

    /** Records the note of turn {@code note.turn()}, replacing one recorded for that turn before (a retried turn). */
    synchronized void put(String tenant, String user, String session, Note note) {
        List<Note> n = sessions.computeIfAbsent(new Key(tenant, user, session), k -> new ArrayList<>());
        n.removeIf(old -> old.turn() >= note.turn());
        n.add(note);
    }

    /** Memory ids the session's notes before turn {@code turn} already named. */
    static Set<String> idsBefore(List<Note> notes, int turn) {
        Set<String> ids = new HashSet<>();
        for (Note n : notes) if (n.turn() < turn) ids.addAll(n.ids());
        return ids;
    }
}

package dev.kvasir.memory.store;

import dev.kvasir.memory.Memory;
import java.time.Instant;
import java.util.List;

/**
 * How a new fact meets the memories that hold its key: decided by the memory layer, applied by the
 * store inside the one transaction that also read the holders under the owner's write lock, so two
 * writers of one key (threads, or processes on one database) are ordered and never leave two
 * valid values.
 */
@FunctionalInterface
public interface FactResolution {

    /** What to write, given the owner's memories that hold the key and are valid now. */
    Outcome resolve(List<Memory> holders);

    /** A memory retired: it stopped holding at {@code invalidAt}, we learned so at {@code expiredAt}, because of {@code by}. */
    record Retirement(String id, Instant invalidAt, Instant expiredAt, String by) {}

    /**
     * @param insert    the new memory (possibly retired already, when it lost), or null when nothing new is written
     * @param retire    memories to retire (losers, and the turns they came from)
     * @param reinforce holders rewritten with new importance/confidence (the same value said again)
     */
    record Outcome(StoredMemory insert, List<Retirement> retire, List<Memory> reinforce) {
        public Outcome {
            retire = List.copyOf(retire);
            reinforce = List.copyOf(reinforce);
        }
    }
}

package dev.kvasir.memory;

import dev.kvasir.memory.store.PostgresTestServer;

/** The store contract on a real PostgreSQL server started by the test (a new database per test). */
class PostgresMemoryStoreTest extends MemoryStoreContract {
    @Override
    protected String newStoreSpec() {
        return PostgresTestServer.shared().newDatabase();
    }
}

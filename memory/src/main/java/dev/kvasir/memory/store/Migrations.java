package dev.kvasir.memory.store;

import javax.sql.DataSource;
import org.flywaydb.core.Flyway;

/**
 * Versioned schema, migrated on start by Flyway. Flyway 13's core serves SQLite itself and
 * PostgreSQL with flyway-database-postgresql, both from Maven Central with no further modules, and
 * it takes PostgreSQL's advisory lock while migrating, so two replicas starting together do not
 * race. Scripts live in db/sqlite and db/postgresql beside this package (one file per version,
 * V<n>__name.sql): same tables, each database's types.
 */
final class Migrations {
    private Migrations() {}

    static void migrate(DataSource dataSource, String dialect) {
        Flyway.configure(Migrations.class.getClassLoader())
                .dataSource(dataSource)
                .locations("classpath:dev/kvasir/memory/db/" + dialect)
                .table("memory_schema_history")
                .baselineOnMigrate(false)
                .load()
                .migrate();
    }
}

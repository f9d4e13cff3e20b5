package dev.kvasir.server;

import dev.kvasir.server.engine.Engine;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real server for one test class: started before its first test, closed after its last.
 * {@code @RegisterExtension static final RunningServer server = new RunningServer(config);}
 */
public final class RunningServer implements BeforeAllCallback, AfterAllCallback {

    private final ServerConfig config;
    private KvasirServer server;

    public RunningServer(ServerConfig config) {
        this.config = config;
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        server = TestServers.start(config);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (server != null) server.close();
        server = null;
    }

    public KvasirServer get() {
        if (server == null) throw new IllegalStateException("the server runs only while its test class does");
        return server;
    }

    public int port() {
        return get().port();
    }

    public String baseUrl() {
        return get().baseUrl();
    }

    public Engine engine() {
        return get().engine();
    }

    public ServedModel model() {
        return get().model();
    }
}

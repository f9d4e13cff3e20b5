package dev.kvasir.server.cli;

import java.nio.file.Path;

/**
 * What {@code kvasir serve} prints once it serves: where, and a curl command to paste into another
 * shell. With API keys the command reads the key from {@code $KVASIR_API_KEY}, and the banner says
 * to export it first: the key itself is never printed (the banner ends up in logs).
 *
 * @param url     the server's base URL
 * @param model   the served model's name
 * @param keyFrom where the accepted keys come from ({@code --api-key}, {@code $KVASIR_API_KEY},
 *                {@code --api-key-file FILE}); null for an open server
 * @param caCert  the certificate curl must trust on a TLS server (self-signed ones are common); null
 *                without TLS
 */
record ServeBanner(String url, String model, String keyFrom, Path caCert) {

    static final String KEY_VARIABLE = "KVASIR_API_KEY";

    String text() {
        String curl = "curl" + (caCert != null ? " --cacert " + shellQuote(caCert.toString()) : "");
        String auth = keyFrom != null ? " -H \"Authorization: Bearer $" + KEY_VARIABLE + "\"" : "";
        StringBuilder b = new StringBuilder();
        b.append("\nKvasir is serving '").append(model).append("' at ").append(url).append("/v1\n");
        if (keyFrom != null) {
            b.append("Requests need an API key. In the shell you send them from, first run:\n");
            b.append("  export ").append(KEY_VARIABLE).append("=").append(placeholder()).append('\n');
        }
        b.append("Try it:\n");
        b.append("  ").append(curl).append(" ").append(url).append("/v1/chat/completions -H 'Content-Type: application/json'")
                .append(auth).append(" -d '{\"model\": \"").append(model.replace("'", "'\\''"))
                .append("\", \"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story\"}], \"max_tokens\": 64}'\n");
        b.append("Metrics: ").append(curl).append(auth).append(" ").append(url).append("/metrics   Health: ")
                .append(url).append("/health\n");
        return b.toString();
    }

    private String placeholder() {
        if (keyFrom.equals("$" + KEY_VARIABLE)) return "'<the key the server was started with>'";
        return "'<" + (keyFrom.startsWith("--api-key-file") ? "a key from " : "the key given to ") + keyFrom + ">'";
    }

    private static String shellQuote(String s) {
        return s.matches("[A-Za-z0-9_./:@%+=,-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }
}

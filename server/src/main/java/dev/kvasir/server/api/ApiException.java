package dev.kvasir.server.api;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * A request the server refuses, carried to the response as OpenAI's error object
 * {@code {"error":{"message","type","param","code"}}}.
 */
public final class ApiException extends RuntimeException {

    private final HttpResponseStatus status;
    private final String type;
    private final String param;
    private final String code;

    public ApiException(HttpResponseStatus status, String type, String param, String code, String message) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400: the request is malformed or a parameter is out of range; {@code param} names it. */
    public static ApiException badRequest(String param, String message) {
        return new ApiException(HttpResponseStatus.BAD_REQUEST, "invalid_request_error", param, null, message);
    }

    public static ApiException unauthorized() {
        return new ApiException(HttpResponseStatus.UNAUTHORIZED, "invalid_request_error", null, "invalid_api_key",
                "Incorrect or missing API key: send it as 'Authorization: Bearer <key>'");
    }

    public static ApiException notFound(String param, String code, String message) {
        return new ApiException(HttpResponseStatus.NOT_FOUND, "invalid_request_error", param, code, message);
    }

    public static ApiException methodNotAllowed(String method, String path) {
        return new ApiException(HttpResponseStatus.METHOD_NOT_ALLOWED, "invalid_request_error", null,
                "method_not_allowed", "Method " + method + " is not allowed on " + path);
    }

    public static ApiException tooLarge(long limit) {
        return new ApiException(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "invalid_request_error", null,
                "request_too_large", "Request body exceeds the limit of " + limit + " bytes");
    }

    public static ApiException overloaded(String message) {
        return new ApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "server_overloaded", null,
                "server_overloaded", message);
    }

    public HttpResponseStatus status() { return status; }
    public String type() { return type; }
    public String param() { return param; }
    public String code() { return code; }
}

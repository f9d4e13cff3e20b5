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
    private final long retryAfterSeconds;

    public ApiException(HttpResponseStatus status, String type, String param, String code, String message) {
        this(status, type, param, code, message, 0);
    }

    private ApiException(HttpResponseStatus status, String type, String param, String code, String message, long retryAfterSeconds) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
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

    /** 429 in OpenAI's shape; {@code retryAfterSeconds} goes into {@code Retry-After} when positive. */
    public static ApiException rateLimited(String code, String message, long retryAfterSeconds) {
        return new ApiException(HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limit_exceeded", null, code, message, retryAfterSeconds);
    }

    public HttpResponseStatus status() { return status; }
    /** Seconds for {@code Retry-After}, 0 for the status's default (1 on 503, none otherwise). */
    public long retryAfterSeconds() { return retryAfterSeconds; }
    public String type() { return type; }
    public String param() { return param; }
    public String code() { return code; }
}

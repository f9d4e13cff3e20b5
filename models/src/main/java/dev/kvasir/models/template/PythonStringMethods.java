package dev.kvasir.models.template;

import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Python's {@code str} methods for Jinjava, which only offers Java's: chat templates written for
 * Jinja2 call {@code content.strip()}, {@code role.startswith('sys')}, {@code text.split('\n')}.
 * An EL resolver placed before Jinjava's own answers such calls on strings and leaves everything
 * else to it.
 */
final class PythonStringMethods extends ELResolver {

    private static final Object NOT_OURS = new Object();

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(base instanceof String s) || !(method instanceof String name)) return null;
        Object result = call(s, name, params == null ? new Object[0] : params);
        if (result == NOT_OURS) return null;
        context.setPropertyResolved(true);
        return result;
    }

    static Object call(String s, String name, Object[] args) {
        return switch (name) {
            case "startswith" -> anyOf(args, 0, p -> s.startsWith(p));
            case "endswith" -> anyOf(args, 0, p -> s.endsWith(p));
            case "strip" -> strip(s, arg(args, 0), true, true);
            case "lstrip" -> strip(s, arg(args, 0), true, false);
            case "rstrip" -> strip(s, arg(args, 0), false, true);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            case "split" -> split(s, arg(args, 0), args.length > 1 ? ((Number) args[1]).intValue() : -1);
            case "splitlines" -> splitLines(s);
            case "replace" -> args.length >= 2 ? s.replace(String.valueOf(args[0]), String.valueOf(args[1])) : NOT_OURS;
            case "find" -> args.length >= 1 ? (Object) (long) s.indexOf(String.valueOf(args[0])) : NOT_OURS;
            case "count" -> args.length >= 1 ? (Object) count(s, String.valueOf(args[0])) : NOT_OURS;
            case "join" -> args.length == 1 && args[0] instanceof Collection<?> items ? join(s, items) : NOT_OURS;
            case "isspace" -> !s.isEmpty() && s.chars().allMatch(Character::isWhitespace);
            case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.chars().allMatch(Character::isLetter);
            default -> NOT_OURS;
        };
    }

    private static String arg(Object[] args, int i) {
        return args.length > i && args[i] != null ? String.valueOf(args[i]) : null;
    }

    /** startswith/endswith take a string or a tuple (list) of strings. */
    private static Object anyOf(Object[] args, int i, java.util.function.Predicate<String> test) {
        if (args.length <= i) return NOT_OURS;
        if (args[i] instanceof Collection<?> options) return options.stream().map(String::valueOf).anyMatch(test);
        return test.test(String.valueOf(args[i]));
    }

    private static String strip(String s, String chars, boolean left, boolean right) {
        int start = 0, end = s.length();
        while (left && start < end && stripped(s.charAt(start), chars)) start++;
        while (right && end > start && stripped(s.charAt(end - 1), chars)) end--;
        return s.substring(start, end);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? Character.isWhitespace(c) || Character.isSpaceChar(c) : chars.indexOf(c) >= 0;
    }

    /** Python's split: no separator splits on whitespace runs and drops empties; a separator keeps them. */
    private static List<String> split(String s, String sep, int maxSplit) {
        List<String> out = new ArrayList<>();
        if (sep == null) {
            for (String part : s.strip().split("\\s+", maxSplit < 0 ? 0 : maxSplit + 1)) if (!part.isEmpty()) out.add(part);
            return out;
        }
        int from = 0, idx;
        while ((maxSplit < 0 || out.size() < maxSplit) && (idx = s.indexOf(sep, from)) >= 0) {
            out.add(s.substring(from, idx));
            from = idx + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    /** Lines without their breaks; no empty last line for a trailing break. */
    private static List<String> splitLines(String s) {
        List<String> lines = new ArrayList<>(List.of(s.split("\\r\\n|\\r|\\n", -1)));
        if (lines.getLast().isEmpty()) lines.removeLast();
        return lines;
    }

    private static String title(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean previousLetter = false;
        for (char c : s.toCharArray()) {
            out.append(previousLetter ? Character.toLowerCase(c) : Character.toUpperCase(c));
            previousLetter = Character.isLetter(c);
        }
        return out.toString();
    }

    private static long count(String s, String sub) {
        if (sub.isEmpty()) return s.length() + 1L;
        long n = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) n++;
        return n;
    }

    private static String join(String sep, Collection<?> items) {
        StringBuilder out = new StringBuilder();
        Iterator<?> it = items.iterator();
        while (it.hasNext()) {
            out.append(it.next());
            if (it.hasNext()) out.append(sep);
        }
        return out.toString();
    }

    // Not a property resolver: everything but method calls goes to Jinjava's own resolvers.

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return false;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}

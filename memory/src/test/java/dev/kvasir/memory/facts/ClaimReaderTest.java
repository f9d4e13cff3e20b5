package dev.kvasir.memory.facts;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Claims about the user in an assistant's reply, read by the user-turn rules. */
class ClaimReaderTest {
    private final ClaimReader reader = new ClaimReader();

    private List<String> claims(String reply) {
        return reader.claims(reply).stream().map(f -> f.key() + "=" + f.value()).toList();
    }

    @Test
    void secondPersonStatementsAreClaims() {
        assertEquals(List.of("user.home_city=Paris"), claims("You live in Paris, so the museum is close."));
        assertEquals(List.of("user.name=Bob", "user.job=pilot"), claims("Hi Bob, since you work as a pilot, mornings are hard."));
        assertEquals(List.of("user.home_city=Lisbon"), claims("As I recall, you live in Lisbon."));
        assertEquals(List.of("user.preference.theme=dark mode"), claims("I think you prefer dark mode."));
        assertEquals(List.of("user.dog_name=Rex"), claims("Your dog is called Rex!"));
    }

    @Test
    void theAssistantsOwnFirstPersonAndQuestionsAreNot() {
        assertEquals(List.of(), claims("I live in a data centre and I prefer short answers."));
        assertEquals(List.of(), claims("Do you live in Paris?"));
        assertEquals(List.of(), claims("Once upon a time there was a little girl named Lily."));
        assertEquals(List.of(), claims("If you lived in Rome you would love it."));
    }
}

// Failpoints: named places where a test makes the process die on purpose, to reach a crash
// window that killing it at a random moment would almost never hit. The environment variable
// TERN_FAILPOINTS arms them: a comma-separated list of names. Unset, nothing is armed.
#pragma once

#include <string_view>

namespace tern {

// True when `name` is armed (TERN_FAILPOINTS is read once, at the first call).
bool FailpointArmed(std::string_view name);

// At an armed failpoint: logs it and ends the process at once (exit status 86), with no
// destructor, flush or handler run, as a kill -9 would. Otherwise does nothing.
void DieAtFailpoint(std::string_view name);

}  // namespace tern

// Incremental UTF-8 validation for streamed token text: push(bytes) returns the text that is
// complete so far, always valid UTF-8. Bytes of an unfinished character wait for the next push;
// bytes that can never form a character come out as U+FFFD at once (one per maximal invalid
// subpart, as Python's codecs "replace" does), an unfinished tail at flush().
#pragma once
#include <string>

namespace edgeq {

class Utf8Stream {
public:
    std::string push(const std::string& bytes);
    std::string flush();  // the held tail as U+FFFD ("" if none); the stream is reset

private:
    std::string pending_;  // a valid prefix of one character, 1..3 bytes
};

}  // namespace edgeq

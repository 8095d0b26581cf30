# Embeds a file into a C++ source as a char array, at build time, with CMake
# alone (no Python needed to build).
#   cmake -DINPUT=in.json -DOUTPUT=out.cc -DSYMBOL=kName -P embed.cmake
# Defines `extern const unsigned char SYMBOL[]` and `extern const unsigned long SYMBOL##Size`.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 32 bytes a line (CMake regexes have no {n} quantifier).
string(REPEAT "0x[0-9a-f][0-9a-f]," 32 line_pattern)
string(REGEX REPLACE "${line_pattern}" "\\0\n" bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by cost/embed.cmake. Do not edit.\n"
  "extern const unsigned char ${SYMBOL}[];\n"
  "extern const unsigned long ${SYMBOL}Size;\n"
  "const unsigned char ${SYMBOL}[] = {\n${bytes}0x00};\n"
  "const unsigned long ${SYMBOL}Size = ${size};\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")

# Fails unless CHANGELOG.md's newest entry ("## [X.Y.Z] - DATE", the first one) is the project's version: the version
# lives in one place (CMakeLists.txt) and a release without its changelog entry does not pass the tests. An
# "## [Unreleased]" section above it (changes since the release, as Keep a Changelog has it) is allowed.
#   cmake -DVERSION=x.y.z -DCHANGELOG=path -P check_changelog.cmake
file(STRINGS "${CHANGELOG}" headings REGEX "^## \\[")
list(FILTER headings EXCLUDE REGEX "^## \\[Unreleased\\]$")
if(NOT headings)
  message(FATAL_ERROR "${CHANGELOG} has no '## [X.Y.Z] - YYYY-MM-DD' entry")
endif()
list(GET headings 0 newest)
if(NOT newest MATCHES "^## \\[([0-9]+\\.[0-9]+\\.[0-9]+)\\] - [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$")
  message(FATAL_ERROR "${CHANGELOG}: the newest entry '${newest}' is not '## [X.Y.Z] - YYYY-MM-DD'")
endif()
if(NOT CMAKE_MATCH_1 STREQUAL VERSION)
  message(FATAL_ERROR "${CHANGELOG}'s newest entry is ${CMAKE_MATCH_1} but the project's version (CMakeLists.txt) is "
                      "${VERSION}: add the release's entry, or set the version")
endif()
message(STATUS "CHANGELOG.md's newest entry is ${VERSION}")

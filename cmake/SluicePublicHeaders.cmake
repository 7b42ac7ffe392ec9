# The embedder API: every header `cmake --install` ships and Doxygen
# documents, listed by hand so that making a header public is a decision.
# Each sits in a component's include/ folder and is installed under the
# path it is included by ("sluice/node.hpp"). Everything else is internal
# (<component>/internal/ or src/) and never installed. The test
# install.InstalledHeadersAreTheEmbedderApiOnly checks that include/ holds
# exactly these, that none includes CAF (except sluice/caf/) or an
# internal header, and that each compiles alone against the install.
include_guard(GLOBAL)

# The folders the headers below are relative to; in the install, include/.
set(SLUICE_PUBLIC_INCLUDE_DIRS
  ${PROJECT_SOURCE_DIR}/runtime/include
  ${PROJECT_SOURCE_DIR}/actors/include
  ${PROJECT_SOURCE_DIR}/cluster/include
  ${PROJECT_SOURCE_DIR}/tools/cli/include)

set(SLUICE_PUBLIC_HEADERS
  # runtime: behaviours and what they see, the registry, the topology.
  runtime/include/sluice/result.hpp
  runtime/include/sluice/event.hpp
  runtime/include/sluice/behaviour.hpp
  runtime/include/sluice/typed_behaviour.hpp
  runtime/include/sluice/test_context.hpp
  runtime/include/sluice/registry.hpp
  runtime/include/sluice/plugin.hpp
  runtime/include/sluice/topology.hpp
  runtime/include/sluice/stage_settings.hpp
  runtime/include/sluice/topology_diff.hpp
  runtime/include/sluice/supervision.hpp
  runtime/include/sluice/metrics.hpp
  runtime/include/sluice/slice_graph.hpp
  runtime/include/sluice/slice_controller.hpp
  runtime/include/sluice/table_mirror.hpp
  runtime/include/sluice/feed.hpp
  runtime/include/sluice/tls.hpp
  # actors: an embedded node, its console commands' answers.
  actors/include/sluice/node.hpp
  actors/include/sluice/event_done.hpp
  actors/include/sluice/admin.hpp
  # The escape hatch, opt-in: a stage as the team's own raw CAF actor. The
  # one public header with CAF, apart in sluice/caf/ so that it is plain.
  actors/include/sluice/caf/actor_stage.hpp
  # cluster: what makes a node a member.
  cluster/include/sluice/cluster.hpp
  # cli: the `sluice` command line in a team's own binary.
  tools/cli/include/sluice/cli.hpp)
list(TRANSFORM SLUICE_PUBLIC_HEADERS PREPEND ${PROJECT_SOURCE_DIR}/)
foreach(header ${SLUICE_PUBLIC_HEADERS})
  if(NOT header MATCHES "/include/sluice/" OR NOT EXISTS ${header})
    message(FATAL_ERROR "public header ${header}: not a file in a "
                        "component's include/sluice/ folder")
  endif()
endforeach()

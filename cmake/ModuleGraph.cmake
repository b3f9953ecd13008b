# The module graph, enforced. Every module (switchyard_module) declares DEPS (PUBLIC: its headers use
# them) and PRIVATE_DEPS (only its .cpp files do). All headers share one include root, so a link alone
# would not stop a file from including a module it does not depend on; this check does, at configure
# time: a file of module M may include the headers of M, of the modules M links, and of what those
# expose (their PUBLIC deps, transitively); a public header of M only what M exposes itself. A wrong
# include fails the configure step (and so the build) with the file, the include and the fix.

# Records a module's dependencies and where its files live (src/<dir>, include/switchyard/<dir>).
function(switchyard_register_module name dir public private)
  set_property(GLOBAL APPEND PROPERTY SY_MODULES ${name})
  set_property(GLOBAL PROPERTY SY_DIR_${name} ${dir})
  set_property(GLOBAL PROPERTY SY_PUBLIC_${name} ${public})
  set_property(GLOBAL PROPERTY SY_PRIVATE_${name} ${private})
endfunction()

# The modules whose headers `mod` exposes: itself and its PUBLIC deps, transitively.
function(_sy_exposed mod out)
  set(result ${mod})
  set(queue ${mod})
  while(queue)
    list(POP_FRONT queue m)
    get_property(pub GLOBAL PROPERTY SY_PUBLIC_${m})
    foreach(d IN LISTS pub)
      if(d MATCHES "^sy_" AND NOT d IN_LIST result)
        list(APPEND result ${d})
        list(APPEND queue ${d})
      endif()
    endforeach()
  endwhile()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

# FATAL_ERROR for every include of `files` that names a module outside `allowed`.
function(_sy_check_files mod files allowed what)
  get_property(modules GLOBAL PROPERTY SY_MODULES)
  set(errors "")
  foreach(f IN LISTS files)
    file(STRINGS ${f} lines REGEX "^#include \"")
    foreach(line IN LISTS lines)
      if(NOT line MATCHES "^#include \"(switchyard/)?([a-z_]+)/")
        continue()
      endif()
      set(target sy_${CMAKE_MATCH_2})
      if(target IN_LIST modules AND NOT target IN_LIST allowed)
        file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${f})
        string(APPEND errors "\n  ${rel}: ${line}\n    ${mod} ${what} ${target}")
      endif()
    endforeach()
  endforeach()
  if(errors)
    message(FATAL_ERROR "The module graph is broken (cmake/ModuleGraph.cmake):${errors}\n"
            "Link the module in the DEPS (its headers need it) or PRIVATE_DEPS (only .cpp files) of the "
            "including module's CMakeLists.txt, or include something it exposes.")
  endif()
endfunction()

function(switchyard_check_module_graph)
  get_property(modules GLOBAL PROPERTY SY_MODULES)
  foreach(mod IN LISTS modules)
    get_property(dir GLOBAL PROPERTY SY_DIR_${mod})
    get_property(pub GLOBAL PROPERTY SY_PUBLIC_${mod})
    get_property(priv GLOBAL PROPERTY SY_PRIVATE_${mod})
    _sy_exposed(${mod} exposed)
    set(visible ${exposed})
    foreach(d IN LISTS pub priv)
      if(d MATCHES "^sy_")
        _sy_exposed(${d} e)
        list(APPEND visible ${e})
      endif()
    endforeach()
    file(GLOB_RECURSE headers ${PROJECT_SOURCE_DIR}/include/switchyard/${dir}/*.hpp)
    file(GLOB_RECURSE sources ${PROJECT_SOURCE_DIR}/src/${dir}/*.cpp ${PROJECT_SOURCE_DIR}/src/${dir}/*.hpp)
    _sy_check_files(${mod} "${headers}" "${exposed}" "does not expose (a public header needs a DEPS entry for)")
    _sy_check_files(${mod} "${sources}" "${visible}" "does not link")
  endforeach()
endfunction()

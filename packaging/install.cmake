# install.cmake: install rules and the Debian package (CPack DEB) for saksi, included
# once from the top-level CMakeLists.txt. Installs only what an appliance needs: the
# two programs, their man pages, the unit, the default config and the schemas; never a
# key (the operator makes those, see saksid(8)).
#
# The package layout is Debian's: programs under /usr (CPack's install prefix), the
# config under /etc/saksi and the unit under /lib/systemd/system, named absolutely
# because the unit and the config name those paths.

set(SAKSI_PKG_DIR ${CMAKE_CURRENT_LIST_DIR})
# The project has no public maintainer address yet: set one when building a package
# that leaves the project (cmake -DSAKSI_DEB_MAINTAINER="Name <address>").
set(SAKSI_DEB_MAINTAINER "saksi maintainers <maintainers@saksi.example>" CACHE STRING
    "Maintainer field of the Debian package")

# Binaries: full RELRO as well as the stack protector and FORTIFY the build already has,
# so a memory bug cannot overwrite the GOT of a daemon that holds the log key.
foreach(t saksid saksi_cli)
  if(TARGET ${t})
    target_link_options(${t} PRIVATE -Wl,-z,relro -Wl,-z,now)
  endif()
endforeach()
if(TARGET saksid)
  install(TARGETS saksid RUNTIME DESTINATION sbin)
endif()
if(TARGET saksi_cli)
  install(TARGETS saksi_cli RUNTIME DESTINATION bin)
endif()

# Man pages, compressed as Debian policy asks (gzip -9n: no name, no time stamp, so the
# package is reproducible).
find_program(SAKSI_GZIP gzip REQUIRED)
set(SAKSI_MAN_GZ)
foreach(page saksid.8 saksi.1)
  string(REGEX REPLACE ".*\\." "" sect ${page})
  set(gz ${CMAKE_BINARY_DIR}/man/${page}.gz)
  add_custom_command(OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${SAKSI_GZIP} -9n -c ${SAKSI_PKG_DIR}/man/${page} > ${gz}
    DEPENDS ${SAKSI_PKG_DIR}/man/${page}
    COMMENT "Compressing man page ${page}"
    VERBATIM)
  list(APPEND SAKSI_MAN_GZ ${gz})
  install(FILES ${gz} DESTINATION share/man/man${sect})
endforeach()
add_custom_target(saksi_man ALL DEPENDS ${SAKSI_MAN_GZ})

# The default config: a conffile (packaging/debian/conffiles), world-readable because it
# holds paths only. The keys directory is shipped empty; postinst gives it to saksi
# (dpkg-statoverride) with mode 0750: group saksi (the local producers, who may also use
# the ipc socket) can read the public halves and log.vkey, while each secret key file
# stays 0600, which both saksid and saksi insist on. The ledger directory is saksi's
# alone (0700).
install(FILES ${SAKSI_PKG_DIR}/saksid.conf DESTINATION /etc/saksi
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(DIRECTORY DESTINATION /etc/saksi/keys
        DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE)
install(DIRECTORY DESTINATION /var/lib/saksi
        DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
install(FILES ${SAKSI_PKG_DIR}/saksid.service DESTINATION /lib/systemd/system
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# The event schemas: one source of truth for the daemon and for producers.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/schemas/events/ DESTINATION share/saksi/schemas/events
        FILES_MATCHING PATTERN "*.json")
# The default rules, next to the schemas as in the source tree (saksi init finds them as
# schemas/events/../rules/default.rules), and their documentation.
install(FILES ${CMAKE_SOURCE_DIR}/schemas/rules/default.rules
        DESTINATION share/saksi/schemas/rules)

# Documentation, with the two files Debian policy asks of every package: copyright and,
# for a version with a Debian revision, changelog.Debian.gz (written here from the
# project version, compressed like the man pages).
string(TIMESTAMP SAKSI_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(${SAKSI_PKG_DIR}/debian/changelog.in ${CMAKE_BINARY_DIR}/debian/changelog @ONLY)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/debian/changelog.Debian.gz
  COMMAND ${SAKSI_GZIP} -9n -c ${CMAKE_BINARY_DIR}/debian/changelog
          > ${CMAKE_BINARY_DIR}/debian/changelog.Debian.gz
  DEPENDS ${CMAKE_BINARY_DIR}/debian/changelog
  VERBATIM)
add_custom_target(saksi_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/debian/changelog.Debian.gz)
install(FILES ${CMAKE_BINARY_DIR}/debian/changelog.Debian.gz ${SAKSI_PKG_DIR}/debian/copyright
        DESTINATION share/doc/saksi)
set(SAKSI_DOCS ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/schemas/FORMATS.md)
foreach(f ${CMAKE_SOURCE_DIR}/docs/saksi.md ${CMAKE_SOURCE_DIR}/docs/saksid.md
          ${CMAKE_SOURCE_DIR}/docs/saksid.conf.example ${CMAKE_SOURCE_DIR}/docs/outbox.md)
  if(EXISTS ${f})
    list(APPEND SAKSI_DOCS ${f})
  endif()
endforeach()
install(FILES ${SAKSI_DOCS} DESTINATION share/doc/saksi)
if(EXISTS ${CMAKE_SOURCE_DIR}/schemas/README.md)
  # Two READMEs: the schemas' one keeps its directory's name.
  install(FILES ${CMAKE_SOURCE_DIR}/schemas/README.md DESTINATION share/doc/saksi
          RENAME schemas-README.md)
endif()

# The Debian package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME saksi)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${SAKSI_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "witness ledger: signed events in an append-only, verifiable Merkle log")
# CPack puts the summary first and indents the rest as Debian's control format asks.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"saksid receives signed events for every claim and queue action of a
social-security claim service, chains them into an append-only LMDB ledger
(an RFC 9162 Merkle tree), signs C2SP checkpoints and returns offline
receipts. saksi is the command line for producers, auditors and external
reviewers: keys, submission, proofs and whole-ledger verification.

The package installs a hardened systemd unit but makes no keys: run
saksi init (see saksid(8)) before the first start.")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Library dependencies computed by dpkg-shlibdeps; adduser for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${SAKSI_PKG_DIR}/debian/conffiles
    ${SAKSI_PKG_DIR}/debian/postinst
    ${SAKSI_PKG_DIR}/debian/prerm
    ${SAKSI_PKG_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)

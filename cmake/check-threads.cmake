# ctest wasm.threads_bitexact: the threaded engine gives bit-identical results to the single-threaded one.
# cmake -DCLI=build/gradcam -DIMAGE=... -DOUT=dir [-DENGINE=simd|relaxed] -P check-threads.cmake
# XNNPACK splits work across threads without changing any output's order of summation, and the backward
# conv gives each dx element to one task; so the CAM and the gradient all the way to the pixels must match
# byte for byte between --threads 1 (single-threaded build) and --threads 2 and 3 (threaded build).
# ENGINE=simd|relaxed: the engine pair the CLI runs (its GC_ENGINE; unset, it prefers relaxed SIMD where
# built). With ENGINE=relaxed (wasm.relaxed.threads_bitexact) the gradient must also differ from the SIMD
# engine's (fused multiply-adds round differently on any CPU with FMA): proof that the relaxed engine ran.
file(MAKE_DIRECTORY "${OUT}")
set(env "")
if(ENGINE)
  set(env ${CMAKE_COMMAND} -E env GC_ENGINE=${ENGINE})
endif()
function(run_cli t engine_env tag)
  execute_process(COMMAND ${engine_env} /usr/bin/node "${CLI}" explain "${IMAGE}" --threads ${t} --layer input
                          --cam "${OUT}/cam${tag}.npy" --grad "${OUT}/grad${tag}.npy"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gradcam --threads ${t} ${engine_env} exited ${rc}: ${err}")
  endif()
  message(STATUS "--threads ${t} ${engine_env}: ${out}")
endfunction()
foreach(t 1 2 3)
  run_cli(${t} "${env}" ${t})
endforeach()
foreach(t 2 3)
  foreach(f cam grad)
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${OUT}/${f}1.npy" "${OUT}/${f}${t}.npy" RESULT_VARIABLE d)
    if(NOT d EQUAL 0)
      message(FATAL_ERROR "${f} with --threads ${t} differs from --threads 1")
    endif()
  endforeach()
endforeach()
if(ENGINE STREQUAL "relaxed")
  run_cli(1 "${CMAKE_COMMAND};-E;env;GC_ENGINE=simd" simd)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${OUT}/grad1.npy" "${OUT}/gradsimd.npy" RESULT_VARIABLE d)
  if(d EQUAL 0)
    message(FATAL_ERROR "GC_ENGINE=${ENGINE} gave the SIMD engine's gradient byte for byte: did the CLI run the ${ENGINE} engine?")
  endif()
endif()

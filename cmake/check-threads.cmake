# ctest wasm.threads_bitexact: the threaded engine gives bit-identical results to the single-threaded one.
# cmake -DCLI=build/gradcam -DIMAGE=... -DOUT=dir -P check-threads.cmake
# XNNPACK splits work across threads without changing any output's order of summation, and the backward
# conv gives each dx element to one task; so the CAM and the gradient all the way to the pixels must match
# byte for byte between --threads 1 (single-threaded build) and --threads 2 and 3 (threaded build).
file(MAKE_DIRECTORY "${OUT}")
foreach(t 1 2 3)
  execute_process(COMMAND /usr/bin/node "${CLI}" explain "${IMAGE}" --threads ${t} --layer input
                          --cam "${OUT}/cam${t}.npy" --grad "${OUT}/grad${t}.npy"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gradcam --threads ${t} exited ${rc}: ${err}")
  endif()
  message(STATUS "--threads ${t}: ${out}")
endforeach()
foreach(t 2 3)
  foreach(f cam grad)
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${OUT}/${f}1.npy" "${OUT}/${f}${t}.npy" RESULT_VARIABLE d)
    if(NOT d EQUAL 0)
      message(FATAL_ERROR "${f} with --threads ${t} differs from --threads 1")
    endif()
  endforeach()
endforeach()
